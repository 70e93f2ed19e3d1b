"""Telegram updates as the inbound journal stores them: raw JSON, keyed by update_id.

Nothing is parsed here beyond the ids needed to file an update (which chat it belongs to,
who sent it), and every lookup is defensive: a malformed update is still stored, then
skipped once when PTB cannot read it.
"""

from __future__ import annotations

from typing import Any

from ccin_bridge.handlers.inbox import Arrival

# Kinds whose object names a chat: updates of one chat are handled in order.
_CHAT_KINDS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "chat_join_request",
    "my_chat_member",
    "chat_member",
)


def arrival(raw: object) -> Arrival | None:
    """The journal entry for one update, or None if it has no usable update_id."""
    if not isinstance(raw, dict):
        return None
    update_id = raw.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return None
    chat, sender = _chat_and_sender(raw)
    return Arrival(
        key=str(update_id),
        # An update that names no chat gets a lane of its own.
        chat_key=f"chat:{chat}" if chat is not None else f"update:{update_id}",
        sender=sender,
        payload=raw,
    )


def update_id_of(raw: object) -> int | None:
    value = raw.get("update_id") if isinstance(raw, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _chat_and_sender(raw: dict[str, Any]) -> tuple[str | None, str | None]:
    for kind in _CHAT_KINDS:
        body = raw.get(kind)
        if isinstance(body, dict):
            return _id(body.get("chat")), _id(body.get("from"))
    query = raw.get("callback_query")
    if isinstance(query, dict):
        sender = _id(query.get("from"))
        message = query.get("message")
        chat = _id(message.get("chat")) if isinstance(message, dict) else None
        return chat or sender, sender  # a button on an inline message: the presser's DM
    for kind in ("inline_query", "chosen_inline_result"):
        body = raw.get(kind)
        if isinstance(body, dict):
            sender = _id(body.get("from"))
            return (f"inline:{sender}" if sender else None), sender
    return None, None


def _id(obj: object) -> str | None:
    value = obj.get("id") if isinstance(obj, dict) else None
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else None
