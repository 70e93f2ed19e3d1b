"""Shared set-up for the subscription, news, digest and broadcast tests.

People talk to a real Bridge on the seeded SQLite; what the outbox queues is delivered by the
real DeliveryService through a recording terminal platform.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.handlers.requests import Request, parse_command_line
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.store.db import Database

ADA = UserRef("terminal", "ada", display_name="Ada Admin", username="ada")
ALEX = UserRef("terminal", "alex", display_name="Alex Example", username="alex")
SAM = UserRef("terminal", "sam", display_name="Sam Sample", username="sam")
FAST = DeliveryPolicy(lanes=2, batch=10, poll_seconds=0.02, lease=timedelta(seconds=30))


async def push_bridge(settings: Settings, db: Database, clock: Callable[[], datetime]) -> Bridge:
    """A bridge whose config names Ada as an admin (so approval cards reach her)."""
    bridge = Bridge(
        settings.model_copy(update={"admins": [ADA.key]}), db, all_commands(), clock=clock
    )
    await bridge.start()
    return bridge


def _dm(user: UserRef) -> Callable[[str, str], Request]:
    def request_for(command: str, args: str) -> Request:
        return Request(user, ChatRef(user.platform, user.user_id, is_private=True), command, args)

    return request_for


async def say(bridge: Bridge, user: UserRef, line: str) -> list[Reply]:
    """A line typed in the person's private chat with the bot."""
    return await bridge.handle_text(_dm(user), line)


async def press(bridge: Bridge, user: UserRef, action: str) -> list[Reply]:
    """A button pressed in the person's private chat."""
    parsed = parse_command_line(action)
    assert parsed is not None, action
    return await bridge.handle(replace(_dm(user)(*parsed), from_button=True))


def says(replies: list[Reply]) -> str:
    return "\n".join(r.plain_text for r in replies)


def actions(replies: list[Reply]) -> list[str]:
    return [b.action for r in replies for row in r.buttons for b in row]


class Recorder:
    """The terminal platform's outbound side, recording what each chat was sent."""

    platform = "terminal"

    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []

    async def send(self, *, chat: ChatRef, reply: Reply) -> None:
        self.sent.append((chat.chat_id, reply))

    def to(self, chat_id: str) -> list[Reply]:
        return [r for c, r in self.sent if c == chat_id]


async def deliver(db: Database, recorder: Recorder | None = None) -> Recorder:
    """Run the real delivery lanes until the outbox is drained."""
    recorder = recorder or Recorder()
    service = DeliveryService(db, {"terminal": recorder}, FAST)
    await service.start()
    try:
        async with asyncio.timeout(20):
            await service.drain()
    finally:
        await service.stop()
    # A delivery report is queued as its push settles, possibly after `drain` looked: the
    # stopped lanes have queued every report by now, so a fresh worker sends those too (a
    # stopped service only releases what it claims).
    final = DeliveryService(db, {"terminal": recorder}, FAST)
    async with asyncio.timeout(20):
        while await final.run_once("final"):
            pass
    return recorder
