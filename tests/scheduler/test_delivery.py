"""The outbox and its delivery lanes, on SQLite and PostgreSQL, with a recording platform."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import Reply, ReplyBuilder, bold, link
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.scheduler.outbound import Blocked, RetryLater, Undeliverable
from ccin_bridge.store import audiences, outbox, people
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Delivery, Identity, utcnow
from ccin_bridge.store.outbox import Target

FAST = DeliveryPolicy(lanes=2, batch=5, poll_seconds=0.02, lease=timedelta(seconds=30))


class RecordingPlatform:
    """Stands in for a platform adapter: records sends and fails on request."""

    platform = "terminal"

    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []
        self.fail: dict[str, list[Exception]] = {}

    async def send(self, *, chat: ChatRef, reply: Reply) -> None:
        planned = self.fail.get(chat.chat_id)
        if planned:
            raise planned.pop(0)
        self.sent.append((chat.chat_id, reply))


async def _people(db: Database, n: int) -> list[int]:
    ids = []
    async with db.session() as session:
        for i in range(n):
            record = await people.touch_identity(
                session,
                platform="terminal",
                external_id=f"u{i}",
                display_name=f"Person {i}",
                username=None,
            )
            ids.append(record.id)
    return ids


async def _push(
    db: Database, reply: Reply, *, key: str | None = None, creator: int | None = None
) -> int | None:
    async with db.session() as session:
        targets = [
            t for pid in await _all_people(db) for t in await audiences.person_targets(session, pid)
        ]
        return await outbox.create_push(
            session,
            kind="broadcast",
            payload=reply_codec.encode(reply),
            targets=targets,
            key=key,
            title="Test",
            created_by=creator,
        )


async def _all_people(db: Database) -> list[int]:
    async with db.session() as session:
        return list(await session.scalars(select(Identity.person_id).order_by(Identity.id)))


async def _drain(service: DeliveryService, seconds: float) -> None:
    """Drain, and on a timeout say what was left: which rows, in which state, held by whom."""
    try:
        async with asyncio.timeout(seconds):
            await service.drain()
    except TimeoutError:
        async with service.db.session() as session:
            rows = (await session.execute(select(Delivery).order_by(Delivery.id))).scalars()
            left = [
                (d.id, d.chat_id, d.status, d.claimed_by, d.attempts, d.next_attempt_at, d.error)
                for d in rows
                if d.status not in ("sent", "failed", "blocked")
            ]
        raise AssertionError(
            f"not drained in {seconds} s; busy lanes {service._busy}, unsettled rows {left}"
        ) from None


def test_replies_survive_the_round_trip_through_json() -> None:
    reply = (
        ReplyBuilder()
        .heading("Digest <1>")
        .para("a ", bold("b & c"), " ", link("site", "https://example.org/?a=1&b=2"))
        .bullets([(bold("x"),), ()])
        .buttons()
        .build(private=True)
    )
    assert reply_codec.decode(reply_codec.encode(reply)) == reply


async def test_every_recipient_gets_it_exactly_once(db: Database) -> None:
    await _people(db, 12)
    platform = RecordingPlatform()
    push_id = await _push(db, ReplyBuilder().para("Hello all").build())
    assert push_id is not None
    service = DeliveryService(db, {"terminal": platform}, FAST)
    await service.start()
    await _drain(service, 20)
    await service.stop()
    assert sorted(chat for chat, _ in platform.sent) == sorted(f"u{i}" for i in range(12))
    async with db.session() as session:
        report = await outbox.report(session, push_id)
    assert report is not None and report.counts["sent"] == 12 and report.finished


async def test_a_scheduled_push_with_a_used_key_sends_nothing(db: Database) -> None:
    await _people(db, 2)
    reply = ReplyBuilder().para("Digest").build()
    assert await _push(db, reply, key="digest:officers:2026-12") is not None
    assert await _push(db, reply, key="digest:officers:2026-12") is None


async def test_blocked_retry_and_permanent_failures_are_told_apart(db: Database) -> None:
    await _people(db, 4)
    platform = RecordingPlatform()
    platform.fail = {
        "u0": [Blocked("Forbidden: bot was blocked by the user")],
        "u1": [RetryLater(0, "429"), RetryLater(0, "429")],
        "u2": [Undeliverable("chat not found")],
        "u3": [ConnectionError("reset")],
    }
    push_id = await _push(db, ReplyBuilder().para("Hi").build())
    assert push_id is not None
    # Transient failures come back after a backoff: make it immediate for the test.
    service = DeliveryService(db, {"terminal": platform}, FAST)
    await service.start()
    async with asyncio.timeout(20):
        while True:
            async with db.session() as session:
                await session.execute(
                    update(Delivery)
                    .where(Delivery.status == "pending")
                    .values(next_attempt_at=utcnow() - timedelta(hours=1))
                )
                report = await outbox.report(session, push_id)
            assert report is not None
            if report.finished:
                break
            await asyncio.sleep(0.05)
    await service.stop()
    assert report.counts == {
        "pending": 0,
        "claimed": 0,
        "sending": 0,
        "sent": 2,
        "failed": 1,
        "blocked": 1,
        "waiting": 0,
    }
    assert sorted(c for c, _ in platform.sent) == ["u1", "u3"]
    async with db.session() as session:
        active = dict((await session.execute(select(Identity.external_id, Identity.active))).all())
    assert active["u0"] is False and active["u1"] is True


async def test_a_crash_mid_send_is_retried_once_and_reported_in_doubt(db: Database) -> None:
    await _people(db, 3)
    push_id = await _push(db, ReplyBuilder().para("Hi").build())
    assert push_id is not None
    async with db.session() as session:
        jobs = await outbox.claim(session, worker="dead/0", platforms=["terminal"], limit=3)
        assert await outbox.mark_sending(session, jobs[0].id, "dead/0")  # died mid-call
    platform = RecordingPlatform()
    service = DeliveryService(
        db, {"terminal": platform}, DeliveryPolicy(lanes=1, lease=timedelta(0), poll_seconds=0.02)
    )
    await service.start()
    await _drain(service, 20)
    await service.stop()
    assert sorted(c for c, _ in platform.sent) == ["u0", "u1", "u2"]
    async with db.session() as session:
        report = await outbox.report(session, push_id)
    assert report is not None and report.counts["sent"] == 3 and report.in_doubt == 1


async def test_two_services_share_one_outbox_without_duplicates(db: Database) -> None:
    await _people(db, 40)
    push_id = await _push(db, ReplyBuilder().para("Hi").build())
    assert push_id is not None
    a, b = RecordingPlatform(), RecordingPlatform()
    services = [DeliveryService(db, {"terminal": p}, FAST) for p in (a, b)]
    for s in services:
        await s.start()
    await _drain(services[0], 30)
    for s in services:
        await s.stop()
    sent = [c for c, _ in a.sent + b.sent]
    assert sorted(sent) == sorted(f"u{i}" for i in range(40))


async def test_the_sender_gets_a_delivery_report(db: Database) -> None:
    [creator, *_] = await _people(db, 3)
    platform = RecordingPlatform()
    push_id = await _push(db, ReplyBuilder().para("Hi").build(), creator=creator)
    service = DeliveryService(db, {"terminal": platform}, FAST)
    await service.start()
    await _drain(service, 20)
    await service.stop()
    reports = [r for chat, r in platform.sent if r.plain_text.startswith("Delivery report")]
    assert len(reports) == 1 and reports[0].plain_text.count("3") >= 1
    assert [c for c, r in platform.sent if r in reports] == ["u0"]
    assert push_id is not None


async def test_rows_a_dead_worker_held_are_taken_back_while_running(db: Database) -> None:
    await _people(db, 3)
    platform = RecordingPlatform()
    policy = DeliveryPolicy(lanes=1, lease=timedelta(seconds=1), poll_seconds=0.02)
    service = DeliveryService(db, {"terminal": platform}, policy)
    await service.start()  # its start-up recovery has nothing to find
    async with db.session() as session:
        # Queued and claimed in one transaction by a worker that then dies mid-send.
        push_id = await outbox.create_push(
            session,
            kind="broadcast",
            payload=reply_codec.encode(ReplyBuilder().para("Hi").build()),
            targets=[Target("terminal", f"u{i}", None) for i in range(3)],
        )
        jobs = await outbox.claim(session, worker="dead/0", platforms=["terminal"], limit=3)
        assert await outbox.mark_sending(session, jobs[0].id, "dead/0")
    assert push_id is not None
    await _drain(service, 30)
    await service.stop()
    assert sorted(c for c, _ in platform.sent) == ["u0", "u1", "u2"]
    async with db.session() as session:
        report = await outbox.report(session, push_id)
    assert report is not None and report.in_doubt == 1


async def test_a_row_taken_back_from_a_slow_worker_is_not_sent_by_it(db: Database) -> None:
    await _people(db, 1)
    await _push(db, ReplyBuilder().para("Hi").build())
    async with db.session() as session:
        [job] = await outbox.claim(session, worker="slow/0", platforms=["terminal"], limit=5)
        await outbox.recover_stale(session, lease=timedelta(0))
        [again] = await outbox.claim(session, worker="fast/0", platforms=["terminal"], limit=5)
        assert again.id == job.id
        assert not await outbox.mark_sending(session, job.id, "slow/0")
        assert await outbox.mark_sending(session, job.id, "fast/0")


async def test_a_refused_database_write_after_sending_does_not_send_twice(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _people(db, 3)
    platform = RecordingPlatform()
    push_id = await _push(db, ReplyBuilder().para("Hi").build())
    real_mark_sent = outbox.mark_sent
    refusals = [OperationalError("UPDATE deliveries", {}, Exception("database is locked"))]

    async def busy_once(session: AsyncSession, delivery_id: int) -> None:
        if refusals:
            raise refusals.pop()
        await real_mark_sent(session, delivery_id)

    monkeypatch.setattr(outbox, "mark_sent", busy_once)
    service = DeliveryService(db, {"terminal": platform}, FAST)
    await service.start()
    await _drain(service, 20)
    await service.stop()
    assert not refusals
    assert sorted(c for c, _ in platform.sent) == ["u0", "u1", "u2"]
    async with db.session() as session:
        report = await outbox.report(session, push_id or 0)
    assert report is not None and report.counts["sent"] == 3 and report.in_doubt == 0


async def test_a_lane_that_fails_takes_up_what_it_claimed_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _people(db, 3)
    platform = RecordingPlatform()
    await _push(db, ReplyBuilder().para("Hi").build())
    real_mark_sending = outbox.mark_sending
    failures = [RuntimeError("connection lost")]

    async def fail_once(session: AsyncSession, delivery_id: int, worker: str) -> bool:
        if failures:
            raise failures.pop()
        return await real_mark_sending(session, delivery_id, worker)

    monkeypatch.setattr(outbox, "mark_sending", fail_once)
    # A lease far longer than the wait: the lane itself must pick its claimed rows up again.
    policy = DeliveryPolicy(lanes=1, batch=5, poll_seconds=0.02, lease=timedelta(hours=1))
    service = DeliveryService(db, {"terminal": platform}, policy)
    await service.start()
    await _drain(service, 20)
    await service.stop()
    assert not failures
    assert sorted(c for c, _ in platform.sent) == ["u0", "u1", "u2"]


async def test_a_push_is_part_of_its_callers_unit_of_work(db: Database) -> None:
    """Queued with whatever caused it: if that fails, neither is kept (SQLite too)."""
    await _people(db, 2)

    async def queue_then_fail() -> None:
        async with db.session() as session:
            await outbox.create_push(
                session,
                kind="broadcast",
                payload=reply_codec.encode(ReplyBuilder().para("Hi").build()),
                targets=[Target("terminal", "u0", None)],
                key="test:rolled-back",
            )
            raise RuntimeError("the cause failed after queueing")

    with pytest.raises(RuntimeError):
        await queue_then_fail()
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 0
        assert await outbox.recent_pushes(session) == []
    assert await _push(db, ReplyBuilder().para("Hi").build(), key="test:rolled-back") is not None
