"""The outbound interface: how scheduled jobs send messages. Each platform adapter implements it."""

from __future__ import annotations

from typing import Protocol

from handlers.identity import ChatRef
from handlers.replies import Reply


class Outbound(Protocol):
    """Sends one reply to one chat on the adapter's own platform."""

    platform: str

    async def send(self, *, chat: ChatRef, reply: Reply) -> None: ...
