"""Telegram users and chats as the bridge's typed references."""

from __future__ import annotations

from typing import Final

from telegram import Chat, User

from ccin_bridge.handlers.identity import ChatRef, UserRef

PLATFORM: Final = "telegram"


def user_ref(user: User) -> UserRef:
    return UserRef(PLATFORM, str(user.id), display_name=user.full_name, username=user.username)


def chat_ref(chat: Chat) -> ChatRef:
    return ChatRef(PLATFORM, str(chat.id), is_private=chat.type == Chat.PRIVATE)


def dm_ref(user: User) -> ChatRef:
    """A person's private chat with the bot has the person's own id."""
    return ChatRef(PLATFORM, str(user.id), is_private=True)
