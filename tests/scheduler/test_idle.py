"""Idle workers neither poll fast nor miss work: what this process queues wakes them as it
commits, they sleep until the next retry falls due, and they find what another process queued
within their (slow) poll; while idle, one read a poll and nothing written."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import Reply, ReplyBuilder
from ccin_bridge.scheduler.chat_actions import ChatActionPolicy, ChatActionService
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.scheduler.outbound import RetryLater
from ccin_bridge.store import chat_actions, outbox
from ccin_bridge.store.db import Database
from ccin_bridge.store.outbox import Target
from tests.handlers.groups_support import FakeChatAdmin
from tests.scheduler.test_chat_action_leases import _queue_invites, _statuses
from tests.scheduler.test_delivery import RecordingPlatform

LONG_POLL = 600.0  # a worker that waited for its poll would outlast every bound below
BOUND = 20.0  # seconds: generous, for a loaded machine


async def _queue(db: Database, *chats: str) -> None:
    async with db.session() as session:
        await outbox.create_push(
            session,
            kind="broadcast",
            payload=reply_codec.encode(ReplyBuilder().para("Hello").build()),
            targets=[Target("terminal", chat) for chat in chats],
            title="Test",
        )


async def _until(done: Any) -> None:
    async with asyncio.timeout(BOUND):
        while not done():  # noqa: ASYNC110 (the workers run in their own tasks)
            await asyncio.sleep(0.02)


@contextmanager
def _statements() -> Iterator[list[str]]:
    """Every SQL statement any engine in this process sends while the block runs."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", count)


async def test_a_push_queued_in_this_process_wakes_the_lanes_as_it_commits(db: Database) -> None:
    platform = RecordingPlatform()
    service = DeliveryService(db, {"terminal": platform}, DeliveryPolicy(poll_seconds=LONG_POLL))
    await service.start()
    try:
        await asyncio.sleep(0.2)  # the lanes have looked and gone to sleep
        await _queue(db, "a", "b")
        await _until(lambda: len(platform.sent) == 2)
    finally:
        await service.stop()


async def test_a_push_rolled_back_wakes_nobody_and_sends_nothing(sqlite_db: Database) -> None:
    woken: list[str] = []
    unsubscribe = outbox.on_queued(sqlite_db.engine, outbox.DELIVERIES, lambda: woken.append("x"))
    try:
        try:
            async with sqlite_db.session() as session:
                await outbox.create_push(
                    session,
                    kind="broadcast",
                    payload=reply_codec.encode(ReplyBuilder().para("Hi").build()),
                    targets=[Target("terminal", "a")],
                )
                raise RuntimeError("the command failed")
        except RuntimeError:
            pass
        assert woken == []
        await _queue(sqlite_db, "a")
        assert woken == ["x"]
        other = Database(sqlite_db.url.render_as_string(hide_password=False))
        try:
            await _queue(other, "b")  # another engine: another process, as far as it goes
        finally:
            await other.close()
        assert woken == ["x"]
    finally:
        unsubscribe()


async def test_a_lane_sleeps_until_a_retry_falls_due_instead_of_polling(db: Database) -> None:
    platform = RecordingPlatform()
    platform.fail = {"a": [RetryLater(0.5, "429")]}
    await _queue(db, "a")
    service = DeliveryService(
        db, {"terminal": platform}, DeliveryPolicy(lanes=2, poll_seconds=LONG_POLL)
    )
    await service.start()
    try:
        await _until(lambda: platform.sent)
    finally:
        await service.stop()
    assert [chat for chat, _ in platform.sent] == ["a"]


async def test_work_another_process_queued_is_found_within_the_poll(db: Database) -> None:
    platform = RecordingPlatform()
    service = DeliveryService(db, {"terminal": platform}, DeliveryPolicy(poll_seconds=0.2))
    other = Database(db.url.render_as_string(hide_password=False))
    await service.start()
    try:
        await asyncio.sleep(0.3)
        await _queue(other, "a")  # its commit wakes nobody here
        await _until(lambda: platform.sent)
    finally:
        await service.stop()
        await other.close()


class SlowFor(RecordingPlatform):
    """Holds the send to one chat until released, as a platform that does not answer."""

    def __init__(self, chat: str) -> None:
        super().__init__()
        self.chat, self.entered, self.release = chat, asyncio.Event(), asyncio.Event()

    async def send(self, *, chat: ChatRef, reply: Reply) -> None:
        if chat.chat_id == self.chat:
            self.entered.set()
            await self.release.wait()
        await super().send(chat=chat, reply=reply)


async def test_a_slow_send_keeps_no_other_lane_from_work_another_process_queued(
    db: Database,
) -> None:
    platform = SlowFor("slow")
    service = DeliveryService(db, {"terminal": platform}, DeliveryPolicy(lanes=2, poll_seconds=0.2))
    other = Database(db.url.render_as_string(hide_password=False))
    await _queue(db, "slow")
    await service.start()
    try:
        async with asyncio.timeout(BOUND):
            await platform.entered.wait()
        await _queue(other, "b")
        await _until(lambda: platform.sent)
        assert [chat for chat, _ in platform.sent] == ["b"]  # while "slow" is still sending
        platform.release.set()
        await _until(lambda: len(platform.sent) == 2)
    finally:
        platform.release.set()
        await service.stop()
        await other.close()


async def test_idle_lanes_read_once_a_poll_and_write_nothing(db: Database) -> None:
    policy = DeliveryPolicy(lanes=4, poll_seconds=0.1)
    service = DeliveryService(db, {"terminal": RecordingPlatform()}, policy)
    await service.start()
    try:
        await asyncio.sleep(0.3)  # past the start's first looks
        with _statements() as seen:
            started = time.monotonic()
            await asyncio.sleep(1.0)
            elapsed = time.monotonic() - started
    finally:
        await service.stop()
    assert seen, "the lookout looks"
    assert all(s.startswith("SELECT min(deliveries.next_attempt_at)") for s in seen), seen
    # One lane looks, once a poll; four lanes looking would be four times as many.
    assert len(seen) <= elapsed / policy.poll_seconds + 2


async def test_an_action_queued_in_this_process_wakes_the_worker(db: Database) -> None:
    admin = FakeChatAdmin("telegram")
    service = ChatActionService(db, {"telegram": admin}, ChatActionPolicy(poll_seconds=LONG_POLL))
    await service.start()
    try:
        await asyncio.sleep(0.2)
        await _queue_invites(db, 1)
        await _until(lambda: admin.calls)
    finally:
        await service.stop()
    assert [kind for kind, _, _ in admin.calls] == ["admit"]


class FailsOnce(FakeChatAdmin):
    async def admit(self, *, chat_id: str, user_id: str, label: str) -> str | None:
        if not self.calls:
            self.calls.append(("refused", chat_id, user_id))
            raise RetryLater(0.5, "429")
        return await super().admit(chat_id=chat_id, user_id=user_id, label=label)


async def test_the_worker_sleeps_until_an_action_falls_due_again(db: Database) -> None:
    admin = FailsOnce("telegram")
    await _queue_invites(db, 1)
    service = ChatActionService(db, {"telegram": admin}, ChatActionPolicy(poll_seconds=LONG_POLL))
    await service.start()
    try:
        await _until(lambda: len(admin.calls) == 2)  # refused, then retried after 1 s
    finally:
        await service.stop()
    assert [kind for kind, _, _ in admin.calls] == ["refused", "admit"]
    assert await _statuses(db) == [(chat_actions.DONE, 2)]


async def test_an_idle_chat_action_worker_reads_once_a_poll_and_writes_nothing(
    db: Database,
) -> None:
    policy = ChatActionPolicy(poll_seconds=0.1)
    service = ChatActionService(db, {"telegram": FakeChatAdmin("telegram")}, policy)
    await service.start()
    try:
        await asyncio.sleep(0.3)
        with _statements() as seen:
            started = time.monotonic()
            await asyncio.sleep(1.0)
            elapsed = time.monotonic() - started
    finally:
        await service.stop()
    assert seen
    assert all(s.startswith("SELECT min(CASE WHEN (chat_actions.status") for s in seen), seen
    assert len(seen) <= elapsed / policy.poll_seconds + 2
