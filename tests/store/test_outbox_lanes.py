"""The outbox's ordered lanes: a chat's deliveries in one go out one at a time, in order."""

from __future__ import annotations

from datetime import timedelta

from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.replies import ReplyBuilder
from ccin_bridge.store import outbox
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import utcnow
from ccin_bridge.store.outbox import Target

PAYLOAD = reply_codec.encode(ReplyBuilder().para("Hi").build())


async def queue(db: Database, n: int, lane: str | None = outbox.RELAY) -> None:
    async with db.session() as session:
        for _ in range(n):
            await outbox.create_push(
                session,
                kind="relay",
                payload=PAYLOAD,
                targets=[Target("slack", "C1", is_private=False), Target("slack", "C2")],
                lane=lane,
            )


async def claim(db: Database, worker: str) -> list[outbox.DeliveryJob]:
    async with db.session() as session:
        return await outbox.claim(session, worker=worker, platforms=["slack"], limit=20)


async def test_only_the_first_unfinished_delivery_of_each_chat_is_claimed(db: Database) -> None:
    await queue(db, 3)
    first = await claim(db, "w1")
    assert [(j.chat_id, j.push_id) for j in first] == [("C1", 1), ("C2", 1)]
    assert all(j.lane == outbox.RELAY for j in first)
    assert await claim(db, "w2") == []  # the next ones wait while the first are out
    # The first to C1 is rate limited: C1's next waits for it; C2's goes on.
    async with db.session() as session:
        c1, c2 = first
        await outbox.mark_sending(session, c1.id, "w1")
        await outbox.mark_retry(
            session, c1.id, delay=timedelta(seconds=30), error="429", max_attempts=1, counted=False
        )
        await outbox.mark_sending(session, c2.id, "w1")
        await outbox.mark_sent(session, c2.id)
    assert [(j.chat_id, j.push_id) for j in await claim(db, "w2")] == [("C2", 2)]
    async with db.read() as session:
        # What the lookout sleeps until: C1's retry, not its later rows (they are not due).
        due = await outbox.next_due(session, ["slack"])
        assert due is not None and due > utcnow() + timedelta(seconds=20)
    # A rate limit did not count: one attempt allowed, and it is still pending, not failed.
    report = None
    async with db.read() as session:
        report = await outbox.report(session, 1)
    assert report is not None and report.counts[outbox.PENDING] == 1


async def test_deliveries_of_no_lane_are_claimed_as_before(db: Database) -> None:
    await queue(db, 3, lane=None)
    assert len(await claim(db, "w1")) == 6
