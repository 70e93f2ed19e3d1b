"""Which Slack requests go through the inbound journal, and how each is filed there.

Events, slash commands, button presses and shortcuts are stored before Slack hears back, then
handled from the journal; Slack retries an event it got no 200 for, and the journal's key
drops the repeat (`event_id` for events, a hash of the signed body for the rest, so a signed
request replayed within Slack's five minutes is answered once). What Slack needs answered in
the response itself (a form's submission, its options, the URL check) is handled at once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ccin_bridge.handlers.inbox import Arrival

HTTP, SOCKET = "http", "socket_mode"
# Everything else (view_submission, view_closed, block_suggestion...) is answered in the
# response itself, so it is handled at once.
_JOURNALED = frozenset({"block_actions", "shortcut", "message_action"})


def arrival(body: dict[str, Any], *, mode: str, raw: str | None = None) -> Arrival | None:
    """The journal entry for a verified request, or None to handle it at once.

    `raw` is the body as signed (HTTP mode); Socket Mode payloads arrive as JSON already.
    """
    kind = str(body.get("type") or "")
    if "command" in body and "response_url" in body:
        user, channel = body.get("user_id"), body.get("channel_id")
    elif kind == "event_callback" and isinstance(body.get("event"), dict):
        event = body["event"]
        user, channel = event.get("user"), event.get("channel")
        item = event.get("item")
        if isinstance(item, dict):  # reactions and the like
            channel = channel or item.get("channel")
    elif kind in _JOURNALED:
        who, where, container = (_object(body, k) for k in ("user", "channel", "container"))
        user, channel = who.get("id"), where.get("id") or container.get("channel_id")
    else:
        return None
    sender = user if isinstance(user, str) and user else None
    place = channel if isinstance(channel, str) and channel else None
    return Arrival(
        key=_key(body, raw),
        # One person's requests in one place keep their order; other people's run beside.
        chat_key=":".join(p for p in (place, sender) if p) or "slack",
        sender=sender,
        payload={"mode": mode, "body": raw if raw is not None else body},
    )


def _object(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    return value if isinstance(value, dict) else {}


def _key(body: dict[str, Any], raw: str | None) -> str:
    event_id = body.get("event_id")
    if body.get("type") == "event_callback" and isinstance(event_id, str) and event_id:
        return f"event:{event_id}"
    signed = raw if raw is not None else json.dumps(body, sort_keys=True)
    return "sha256:" + hashlib.sha256(signed.encode()).hexdigest()
