"""Relaying on Telegram: a group message's text and entities as neutral spans, and relayed
copies posted, edited and deleted as the outbox's `Relayer`.

Message ids are Telegram's `message_id` (unique within its chat) as text. A copy is Telegram
HTML (render.py), under a first line naming its author and platform; a copy that answers
another message is a reply to that message's id here (the original or its copy).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from telegram import Message, MessageEntity
from telegram.constants import ParseMode
from telegram.error import BadRequest

from ccin_bridge.bots.telegram.errors import delivery_errors
from ccin_bridge.bots.telegram.refs import PLATFORM, chat_ref, user_ref
from ccin_bridge.bots.telegram.render import render_reply
from ccin_bridge.handlers.events import ChatPost
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.relay_order import Copy
from ccin_bridge.handlers.relay_text import to_blocks
from ccin_bridge.handlers.replies import Paragraph, Reply, Span, italic
from ccin_bridge.scheduler.outbound import Undeliverable

_BOLD = {MessageEntity.BOLD}
_ITALIC = {MessageEntity.ITALIC}
_CODE = {MessageEntity.CODE, MessageEntity.PRE}
_GONE = "message to delete not found"
# Past 48 hours a bot may no longer delete its own message, but may still edit it.
_TOO_OLD = "message can't be deleted"
REMOVED = "[removed]"


def spans(text: str, entities: Sequence[MessageEntity]) -> list[Span]:
    """Telegram's text with its entities (offsets in UTF-16 code units) as styled spans:
    bold, italic, code and links are kept; the rest (mentions, hashtags...) is plain text."""
    units = text.encode("utf-16-le")
    cuts = {0, len(units) // 2}
    for entity in entities:
        cuts |= {entity.offset, entity.offset + entity.length}
    edges = sorted(c for c in cuts if 0 <= c <= len(units) // 2)
    out: list[Span] = []
    for start, end in itertools.pairwise(edges):
        piece = units[start * 2 : end * 2].decode("utf-16-le", errors="replace")
        over = [e for e in entities if e.offset <= start and end <= e.offset + e.length]
        kinds = {e.type for e in over}
        url = next((e.url for e in over if e.type == MessageEntity.TEXT_LINK and e.url), None)
        if url is None and MessageEntity.URL in kinds:
            url = piece if piece.startswith(("http://", "https://")) else f"https://{piece}"
        out.append(
            Span(
                piece,
                bold=bool(kinds & _BOLD),
                italic=bool(kinds & _ITALIC),
                code=bool(kinds & _CODE),
                link=url,
            )
        )
    return out


def post_from(message: Message, *, edited: bool) -> ChatPost | None:
    """A group message as the core's event; None for what is not a person's text."""
    user = message.from_user
    if user is None or message.text is None:
        return None
    reply_to = message.reply_to_message
    return ChatPost(
        user_ref(user),
        chat_ref(message.chat),
        str(message.message_id),
        to_blocks(spans(message.text, message.entities)),
        reply_to=str(reply_to.message_id) if reply_to is not None else None,
        edited=edited,
        # A bot, or a message sent through one (inline mode): never relayed.
        from_bot=user.is_bot or message.via_bot is not None,
    )


def copy_reply(copy: Copy) -> Reply:
    """The copy as it reads on Telegram: who wrote it and where, then what they wrote."""
    header = Paragraph((Span(copy.author, bold=True), italic(f" — via {copy.via}")))
    return Reply((header, *copy.reply.blocks))


class TelegramRelayer:
    """Posts, edits and deletes relayed copies in Telegram groups."""

    platform = PLATFORM

    def __init__(self, post: Any) -> None:
        self._post = post  # the bot's `_post(method, data)`, through its rate limiter

    async def post_copy(self, *, chat: ChatRef, copy: Copy, thread: str | None) -> str:
        chunks = render_reply(copy_reply(copy))
        first: str | None = None
        for chunk in chunks:
            data: dict[str, Any] = {
                "chat_id": int(chat.chat_id),
                "text": chunk.html,
                "parse_mode": ParseMode.HTML,
                "link_preview_options": {"is_disabled": True},
            }
            if thread is not None and thread.isdigit():
                data["reply_parameters"] = {
                    "message_id": int(thread),
                    "allow_sending_without_reply": True,  # the original was deleted: still post
                }
            with delivery_errors():
                sent = await self._post("sendMessage", data)
            if first is None:
                first = str(sent["message_id"])
        if first is None:
            raise Undeliverable("nothing to relay")
        return first

    async def edit_copy(self, *, chat: ChatRef, message_id: str, copy: Copy) -> None:
        [first, *_] = render_reply(copy_reply(copy))
        data = {
            "chat_id": int(chat.chat_id),
            "message_id": int(message_id),
            "text": first.html,
            "parse_mode": ParseMode.HTML,
            "link_preview_options": {"is_disabled": True},
        }
        try:
            with delivery_errors():
                await self._post("editMessageText", data)
        except Undeliverable as exc:
            if (
                not isinstance(exc.__cause__, BadRequest)
                or "not modified" not in str(exc.__cause__.message).casefold()
            ):
                raise

    async def delete_copy(self, *, chat: ChatRef, message_id: str) -> None:
        data = {"chat_id": int(chat.chat_id), "message_id": int(message_id)}
        try:
            with delivery_errors():
                await self._post("deleteMessage", data)
        except Undeliverable as exc:
            cause = exc.__cause__
            if not isinstance(cause, BadRequest):
                raise
            said = cause.message.casefold()  # PTB drops "Bad Request: " and capitalises
            if _TOO_OLD in said:
                await self._blank(chat, message_id)  # its failure keeps the mapping to retry
            elif _GONE not in said:
                raise

    async def _blank(self, chat: ChatRef, message_id: str) -> None:
        """A copy too old to delete: its text is replaced instead."""
        data = {"chat_id": int(chat.chat_id), "message_id": int(message_id), "text": REMOVED}
        try:
            with delivery_errors():
                await self._post("editMessageText", data)
        except Undeliverable as exc:
            if (
                not isinstance(exc.__cause__, BadRequest)
                or "not modified" not in str(exc.__cause__.message).casefold()
            ):
                raise
