"""What Slack sends, as the bridge's neutral terms: people, chats and command lines. Pure."""

from __future__ import annotations

import re

from ccin_bridge.handlers.identity import ChatRef, UserRef

# `<@U123|name>`, `<#C123|general>`, `<!here>`, `<https://x|label>`: Slack's markup in text.
_TOKEN = re.compile(r"<([^<>]*)>")


def user_ref(user_id: str, handle: str | None, display_name: str | None = None) -> UserRef:
    return UserRef("slack", user_id, display_name=display_name or handle or "", username=handle)


def chat_ref(channel_id: str, channel_name: str | None = None) -> ChatRef:
    """A DM (an `im`, id `D…`) is private; channels, even private ones, are shared."""
    return ChatRef(
        "slack",
        channel_id,
        is_private=channel_id.startswith("D") or channel_name == "directmessage",
    )


def plain_text(text: str) -> str:
    """Slack's escaped message text as the person typed it: tokens to words, entities undone."""

    def word(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^", 1)[0]
        return label or target

    text = _TOKEN.sub(word, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def slash_line(text: str) -> str:
    """`/ccin search food` arrives as the text `search food`; `/ccin` alone asks for help."""
    words = plain_text(text).strip().removeprefix("/").strip()
    return "/" + (words or "help")


def message_line(text: str, bot_user_id: str | None) -> str:
    """A DM or an @-mention as the words the person wrote to the bot, without the mention.

    Slack keeps `/…` for its own commands, so people write `search food`, not `/search food`:
    the core decides whether a first word is a command (Bridge.handle_text).
    """
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^<>]*)?>", " ", text)
    return " ".join(plain_text(text).split())
