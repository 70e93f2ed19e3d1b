"""What the outbox carries for a relayed message: post a copy, edit it, or delete it.

A relay push holds one `RelayOrder` as JSON; the delivery lane looks up, at send time, the
copy's id in its chat (made by an earlier order of the same ordered lane) and hands the
adapter a `Copy` (`scheduler/outbound.py`'s `Relayer`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.replies import Reply

Action = Literal["post", "edit", "delete"]
ACTIONS: tuple[Action, ...] = ("post", "edit", "delete")
KEY = "relay"  # a push payload with this key is a relay order, not a reply


@dataclass(frozen=True)
class Copy:
    """A relayed message as another platform shows it: who wrote it, and from where."""

    author: str  # "Ada Example, Exampleton Council"
    via: str  # the platform it was posted on, as people read it ("Telegram")
    reply: Reply  # the message itself, in the core's neutral formatting

    @property
    def attribution(self) -> str:
        return f"{self.author} — via {self.via}"


@dataclass(frozen=True)
class RelayOrder:
    action: Action
    relay_id: int | None
    copy: Copy | None = None
    reply_to: int | None = None  # the relayed message this one answers, whose thread it joins
    # Copies' ids by "platform:chat id", for a deletion whose mapping is already gone (erasure)
    known: Mapping[str, str] = field(default_factory=dict)


def chat_key(platform: str, chat_id: str) -> str:
    return f"{platform}:{chat_id}"


def is_order(payload: Mapping[str, Any]) -> bool:
    return KEY in payload


def encode(order: RelayOrder) -> dict[str, Any]:
    data: dict[str, Any] = {"action": order.action, "id": order.relay_id}
    if order.copy is not None:
        data["author"] = order.copy.author
        data["via"] = order.copy.via
        data["reply"] = reply_codec.encode(order.copy.reply)
    if order.reply_to is not None:
        data["reply_to"] = order.reply_to
    if order.known:
        data["known"] = dict(order.known)
    return {KEY: data}


def decode(payload: Mapping[str, Any]) -> RelayOrder:
    data = payload[KEY]
    action = data.get("action")
    if action not in ACTIONS:
        raise ValueError(f"unknown relay action {action!r}")
    copy = None
    if "reply" in data:
        copy = Copy(str(data["author"]), str(data["via"]), reply_codec.decode(data["reply"]))
    relay_id, reply_to = data.get("id"), data.get("reply_to")
    return RelayOrder(
        cast(Action, action),
        int(relay_id) if relay_id is not None else None,
        copy,
        int(reply_to) if reply_to is not None else None,
        {str(k): str(v) for k, v in (data.get("known") or {}).items()},
    )
