"""Stopping the outbox workers does not wait out their poll: a stop that comes while a worker
is looking for work wakes it at once (it used to clear that wake-up and sleep a whole poll)."""

from __future__ import annotations

import asyncio

from ccin_bridge.scheduler.chat_actions import ChatActionPolicy, ChatActionService
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.store.db import Database
from tests.handlers.groups_support import FakeChatAdmin

LONG_POLL = 600.0  # a worker that waited out its poll would outlast the test's bound


class Looking:
    """A `run_once` that is under way when stop() comes, and then finds nothing."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, *_args: object, **_kwargs: object) -> int:
        self.entered.set()
        await self.release.wait()
        return 0


async def _stop_while_looking(service: ChatActionService | DeliveryService) -> None:
    looking = Looking()
    service.run_once = looking  # type: ignore[method-assign]
    await service.start()
    async with asyncio.timeout(10):
        await looking.entered.wait()
        stopping = asyncio.create_task(service.stop(grace=LONG_POLL))
        await asyncio.sleep(0)  # stop() has set its wake-up
        looking.release.set()
        await stopping


async def test_the_chat_action_worker_stops_without_waiting_out_its_poll(
    sqlite_db: Database,
) -> None:
    policy = ChatActionPolicy(poll_seconds=LONG_POLL)
    await _stop_while_looking(
        ChatActionService(sqlite_db, {"telegram": FakeChatAdmin("telegram")}, policy)
    )


async def test_the_delivery_lanes_stop_without_waiting_out_their_poll(sqlite_db: Database) -> None:
    policy = DeliveryPolicy(lanes=2, poll_seconds=LONG_POLL)
    await _stop_while_looking(DeliveryService(sqlite_db, {}, policy))
