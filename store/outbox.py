"""The outbox: every push becomes one delivery row per recipient chat, drained by workers.

Rows move pending -> claimed -> sending -> sent | failed | blocked. A worker claims a batch
in one UPDATE (on PostgreSQL its subquery uses `FOR UPDATE SKIP LOCKED`, so several workers
never take the same row), then marks each row `sending` just before the platform call and
`sent` just after it. After a crash, `claimed` rows were never tried and simply go back to
pending; a `sending` row may already have been shown, so it goes back marked `in_doubt` and
the delivery report lists it. So a crash duplicates at most one message per worker. A send
that failed after the platform may have taken it (a timeout waiting for the answer) is
retried the same way and marked `in_doubt` too: every possible repeat is in the report.

A row whose person is away (the platform reaches only whoever is there now, like the terminal
chat) is kept as `waiting`: no lane claims it and it never expires; it is settled as far as
the push's report goes, and `claim_for_chats` takes it when that person is back.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    case,
    event,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, aliased

from ccin_bridge.store.models import Delivery, Identity, Push, utcnow
from ccin_bridge.store.records import PushSummary
from ccin_bridge.store.upsert import insert_new

PENDING, CLAIMED, SENDING = "pending", "claimed", "sending"
SENT, FAILED, BLOCKED, WAITING = "sent", "failed", "blocked", "waiting"
STATUSES = (PENDING, CLAIMED, SENDING, SENT, FAILED, BLOCKED, WAITING)
UNFINISHED = (PENDING, CLAIMED, SENDING)
_CHUNK = 500  # rows per INSERT: well under SQLite's and psycopg's parameter limits


@dataclass(frozen=True)
class Target:
    """One chat to deliver to: a person's DM (with their identity) or a group chat."""

    platform: str
    chat_id: str
    identity_id: int | None = None
    is_private: bool = True


@dataclass(frozen=True)
class DeliveryJob:
    id: int
    push_id: int
    platform: str
    chat_id: str
    is_private: bool
    identity_id: int | None
    attempts: int
    in_doubt: bool
    payload: dict[str, Any]
    lane: str | None = None


@dataclass(frozen=True)
class PushReport:
    push_id: int
    kind: str
    title: str
    audience: str | None
    created_at: datetime
    counts: dict[str, int]
    in_doubt: int
    errors: tuple[tuple[str, str, str], ...]  # (platform, chat id, error) of failures

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> bool:
        return all(self.counts.get(s, 0) == 0 for s in UNFINISHED)


async def create_push(
    session: AsyncSession,
    *,
    kind: str,
    payload: dict[str, Any],
    targets: Iterable[Target],
    key: str | None = None,
    audience: str | None = None,
    title: str = "",
    created_by: int | None = None,
    subject_id: int | None = None,
    now: datetime | None = None,
    lane: str | None = None,
) -> int | None:
    """Queue a push and its deliveries. With a `key` already used, queue nothing: None.

    `subject_id` is the person the push is about (an approval card, a notice to them): their
    erasure redacts it. `lane` names an ordered lane (`RELAY`): each chat's deliveries in it
    go out one at a time, in the order they were queued."""
    now = now or utcnow()
    values = {
        "kind": kind,
        "key": key,
        "audience": audience,
        "title": title[:300],
        "payload": payload,
        "created_by": created_by,
        "subject_id": subject_id,
        "created_at": now,
    }
    # ON CONFLICT rather than a savepoint: the key's check and claim are one statement even
    # between processes, and SQLite's driver would commit a savepoint opened first in a
    # transaction on its own, breaking the caller's all-or-nothing unit of work.
    statement = insert_new(session, Push).values(values)
    push_id = await session.scalar(
        statement.on_conflict_do_nothing(index_elements=[Push.key]).returning(Push.id)
    )
    if push_id is None:  # the key was taken: this push was already queued
        return None
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for t in targets:
        rows.setdefault(
            (t.platform, t.chat_id),
            {
                "push_id": push_id,
                "identity_id": t.identity_id,
                "platform": t.platform,
                "chat_id": t.chat_id,
                "is_private": t.is_private,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "in_doubt": False,
                "lane": lane,
            },
        )
    deliveries = list(rows.values())
    for start in range(0, len(deliveries), _CHUNK):
        await session.execute(insert(Delivery), deliveries[start : start + _CHUNK])
    if deliveries:
        queued(session, DELIVERIES)
    return int(push_id)


RELAY = "relay"  # the ordered lane of relayed group messages


def _first_in_lane() -> ColumnElement[bool]:
    """A row of no ordered lane, or the first unfinished one of its lane in its chat: a later
    row waits for it (a retried one too), so a chat gets them in order."""
    earlier = aliased(Delivery)
    return or_(
        Delivery.lane.is_(None),
        ~exists().where(
            earlier.lane == Delivery.lane,
            earlier.platform == Delivery.platform,
            earlier.chat_id == Delivery.chat_id,
            earlier.status.in_(UNFINISHED),
            earlier.id < Delivery.id,
        ),
    )


async def next_due(session: AsyncSession, platforms: Collection[str]) -> datetime | None:
    """When the earliest pending delivery for these platforms is due (None: none is pending),
    which the delivery lookout sleeps until; one read, on `ix_deliveries_due`. A row waiting
    behind an earlier one of its ordered lane is not due until that one is done."""
    return await session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.status == PENDING, Delivery.platform.in_(list(platforms)), _first_in_lane()
        )
    )


async def claim(
    session: AsyncSession,
    *,
    worker: str,
    platforms: Collection[str],
    limit: int,
    now: datetime | None = None,
) -> list[DeliveryJob]:
    """Take up to `limit` due deliveries for these platforms, marking them `claimed`."""
    now = now or utcnow()
    due = (
        select(Delivery.id)
        .where(
            Delivery.status == PENDING,
            Delivery.next_attempt_at <= now,
            Delivery.platform.in_(list(platforms)),
            _first_in_lane(),
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    # One statement, so two workers on SQLite cannot both read a row before either writes.
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()), Delivery.status == PENDING)
        .values(status=CLAIMED, claimed_by=worker, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return await _claimed_by(session, worker)


async def claim_for_chats(
    session: AsyncSession,
    *,
    worker: str,
    platform: str,
    chat_ids: Collection[str],
    now: datetime | None = None,
) -> list[DeliveryJob]:
    """Take everything kept or queued for these chats, due or not: their person is here now
    (the terminal chat, opened by someone who was away). Claimed as `claim` does, so a lane
    taking the same row at the same moment gets it or this does, never both. Settling a pending
    row may finish its push: the caller queues its report as a lane would (`queue_reports`)."""
    await session.execute(
        update(Delivery)
        .where(
            Delivery.platform == platform,
            Delivery.chat_id.in_(list(chat_ids)),
            Delivery.status.in_([PENDING, WAITING]),
        )
        .values(status=CLAIMED, claimed_by=worker, claimed_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return await _claimed_by(session, worker)


async def kept_for_chats(
    session: AsyncSession, *, platform: str, chat_ids: Collection[str]
) -> bool:
    """Whether `claim_for_chats` would find anything (a read, so looking often is cheap)."""
    row = await session.scalar(
        select(Delivery.id)
        .where(
            Delivery.platform == platform,
            Delivery.chat_id.in_(list(chat_ids)),
            Delivery.status.in_([PENDING, WAITING]),
        )
        .limit(1)
    )
    return row is not None


async def _claimed_by(session: AsyncSession, worker: str) -> list[DeliveryJob]:
    rows = await session.execute(
        select(Delivery, Push.payload)
        .join(Push, Push.id == Delivery.push_id)
        .where(Delivery.claimed_by == worker, Delivery.status == CLAIMED)
        .order_by(Delivery.id)
    )
    return [
        DeliveryJob(
            id=d.id,
            push_id=d.push_id,
            platform=d.platform,
            chat_id=d.chat_id,
            is_private=d.is_private,
            identity_id=d.identity_id,
            attempts=d.attempts + 1,
            in_doubt=d.in_doubt,
            payload=payload,
            lane=d.lane,
        )
        for d, payload in rows
    ]


async def mark_sending(
    session: AsyncSession, delivery_id: int, worker: str, now: datetime | None = None
) -> bool:
    """Just before the platform call: from here a crash leaves the delivery in doubt.

    False if the row is no longer this worker's (held past the lease and given to another),
    in which case it must not be sent.
    """
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.claimed_by == worker,
            Delivery.status == CLAIMED,
        )
        .values(status=SENDING, claimed_at=now or utcnow(), attempts=Delivery.attempts + 1)
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_sent(session: AsyncSession, delivery_id: int, now: datetime | None = None) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(status=SENT, sent_at=now or utcnow(), error=None)
    )


async def mark_retry(
    session: AsyncSession,
    delivery_id: int,
    *,
    delay: timedelta,
    error: str,
    max_attempts: int,
    in_doubt: bool = False,
    counted: bool = True,
    now: datetime | None = None,
) -> bool:
    """Back to pending after `delay`, or failed once out of attempts. True if it will retry.

    `in_doubt`: the platform may have taken this attempt already (it timed out after sending),
    so the delivery report counts it among possible repeats; the flag is never cleared.
    Not `counted` (a rate limit on an ordered lane): the attempt does not count towards giving
    up, so a burst is delivered late rather than dropped.
    """
    now = now or utcnow()
    if not counted:
        await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(attempts=Delivery.attempts - 1)  # mark_sending counted it
        )
    attempts = await session.scalar(select(Delivery.attempts).where(Delivery.id == delivery_id))
    if attempts is None:
        return False
    if in_doubt:
        await session.execute(
            update(Delivery).where(Delivery.id == delivery_id).values(in_doubt=True)
        )
    if attempts >= max_attempts:
        await mark_failed(session, delivery_id, f"gave up after {attempts} attempts: {error}")
        return False
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(status=PENDING, next_attempt_at=now + delay, error=error[:500])
    )
    return True


async def mark_waiting(session: AsyncSession, delivery_id: int, error: str) -> None:
    """Kept for when the person is back (`claim_for_chats`): not an attempt, so it does not
    count towards giving up."""
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(
            status=WAITING,
            claimed_by=None,
            attempts=Delivery.attempts - 1,  # mark_sending counted one
            error=error[:500],
        )
    )


async def mark_failed(session: AsyncSession, delivery_id: int, error: str) -> None:
    await session.execute(
        update(Delivery).where(Delivery.id == delivery_id).values(status=FAILED, error=error[:500])
    )


async def mark_blocked(session: AsyncSession, delivery_id: int, error: str) -> None:
    """The person blocked the bot: deactivate that identity and stop every pending send to it."""
    identity_id = await session.scalar(
        select(Delivery.identity_id).where(Delivery.id == delivery_id)
    )
    await session.execute(
        update(Delivery).where(Delivery.id == delivery_id).values(status=BLOCKED, error=error[:500])
    )
    if identity_id is not None:
        await session.execute(
            update(Identity).where(Identity.id == identity_id).values(active=False)
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.identity_id == identity_id, Delivery.status == PENDING)
            .values(status=BLOCKED, error="the person has blocked the bot")
        )


async def recover_stale(
    session: AsyncSession, *, lease: timedelta, now: datetime | None = None
) -> int:
    """Give back rows held longer than the lease by a worker that has stopped.

    `claimed` rows were never tried; `sending` rows may have reached the person, so they are
    marked in doubt. Returns how many were in doubt.
    """
    now = now or utcnow()
    stale = Delivery.claimed_at < now - lease
    await session.execute(
        update(Delivery)
        .where(Delivery.status == CLAIMED, stale)
        .values(status=PENDING, claimed_by=None)
    )
    result = await session.execute(
        update(Delivery)
        .where(Delivery.status == SENDING, stale)
        .values(
            status=PENDING,
            claimed_by=None,
            in_doubt=True,
            next_attempt_at=now,
            error="the sending worker stopped mid-send; it may have been delivered already",
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def release(session: AsyncSession, worker: str) -> None:
    """A worker stopping cleanly hands back what it claimed but had not tried."""
    await session.execute(
        update(Delivery)
        .where(Delivery.claimed_by == worker, Delivery.status == CLAIMED)
        .values(status=PENDING, claimed_by=None)
    )


async def expire(
    session: AsyncSession, *, older_than: timedelta, now: datetime | None = None
) -> list[int]:
    """Pending rows for a platform that has not been running for days are given up; the
    pushes they belonged to (whose reports may now be due)."""
    now = now or utcnow()
    stale = (Delivery.status == PENDING) & Delivery.push_id.in_(
        select(Push.id).where(Push.created_at < now - older_than)
    )
    push_ids = sorted(set(await session.scalars(select(Delivery.push_id).where(stale))))
    if push_ids:
        await session.execute(
            update(Delivery)
            .where(stale)
            .values(status=FAILED, error="expired: the platform was not connected in time")
        )
    return push_ids


async def report(session: AsyncSession, push_id: int, max_errors: int = 20) -> PushReport | None:
    push = await session.get(Push, push_id)
    if push is None:
        return None
    counts = {
        status: int(n)
        for status, n in await session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.push_id == push_id)
            .group_by(Delivery.status)
        )
    }
    in_doubt = await session.scalar(
        select(func.count()).where(Delivery.push_id == push_id, Delivery.in_doubt.is_(True))
    )
    errors = await session.execute(
        select(Delivery.platform, Delivery.chat_id, Delivery.error)
        .where(Delivery.push_id == push_id, Delivery.status.in_([FAILED, BLOCKED]))
        .order_by(Delivery.id)
        .limit(max_errors)
    )
    return PushReport(
        push_id=push.id,
        kind=push.kind,
        title=push.title,
        audience=push.audience,
        created_at=push.created_at,
        counts={s: counts.get(s, 0) for s in STATUSES},
        in_doubt=int(in_doubt or 0),
        errors=tuple((p, c, e or "") for p, c, e in errors),
    )


async def recent_reports(session: AsyncSession, limit: int = 20) -> list[PushReport]:
    """The newest pushes first (as `recent_pushes`), each with its counts as `report` has them
    (without the errors): two queries however many pushes, the counts grouped in one."""
    pushes = list(
        await session.scalars(
            select(Push)
            .where(Push.kind.not_in(UNLISTED_KINDS))
            .order_by(Push.id.desc())
            .limit(limit)
        )
    )
    if not pushes:
        return []
    counts: dict[int, dict[str, int]] = {p.id: dict.fromkeys(STATUSES, 0) for p in pushes}
    in_doubt: dict[int, int] = dict.fromkeys(counts, 0)
    rows = await session.execute(
        select(
            Delivery.push_id,
            Delivery.status,
            func.count(),
            func.sum(case((Delivery.in_doubt.is_(True), 1), else_=0)),
        )
        .where(Delivery.push_id.in_(list(counts)))
        .group_by(Delivery.push_id, Delivery.status)
    )
    for push_id, status, n, doubtful in rows:
        if status in STATUSES:  # as `report` counts them
            counts[push_id][status] = int(n)
        in_doubt[push_id] += int(doubtful or 0)
    return [
        PushReport(
            push_id=p.id,
            kind=p.kind,
            title=p.title,
            audience=p.audience,
            created_at=p.created_at,
            counts=counts[p.id],
            in_doubt=in_doubt[p.id],
            errors=(),
        )
        for p in pushes
    ]


@dataclass(frozen=True)
class RecipientStatus:
    """One delivery of a push, for its report: who, where, and how it went."""

    platform: str
    chat_id: str
    is_private: bool
    name: str  # the account's display name ("" for a group chat or an account now gone)
    username: str | None
    status: str
    in_doubt: bool
    at: datetime | None  # sent, else last tried
    error: str | None


async def recipients(session: AsyncSession, push_id: int, limit: int) -> list[RecipientStatus]:
    """A push's deliveries, at most `limit`: those that went wrong (failed, blocked, in doubt)
    first, so a big push's failures are never beyond the limit; then in the order queued."""
    went_wrong = or_(Delivery.status.in_([FAILED, BLOCKED]), Delivery.in_doubt.is_(True))
    rows = await session.execute(
        select(Delivery, Identity.display_name, Identity.username)
        .outerjoin(Identity, Identity.id == Delivery.identity_id)
        .where(Delivery.push_id == push_id)
        .order_by(case((went_wrong, 0), else_=1), Delivery.id)
        .limit(limit)
    )
    return [
        RecipientStatus(
            platform=d.platform,
            chat_id=d.chat_id,
            is_private=d.is_private,
            name=name or "",
            username=username,
            status=d.status,
            in_doubt=d.in_doubt,
            at=d.sent_at or d.claimed_at,
            error=d.error,
        )
        for d, name, username in rows
    ]


async def unreported_finished(session: AsyncSession, push_ids: Collection[int]) -> list[int]:
    """Of these pushes, those with a creator, every delivery settled, and no report sent yet."""
    if not push_ids:
        return []
    open_ = select(Delivery.push_id).where(
        Delivery.push_id.in_(list(push_ids)), Delivery.status.in_(UNFINISHED)
    )
    rows = await session.scalars(
        select(Push.id).where(
            Push.id.in_(list(push_ids)),
            Push.created_by.is_not(None),
            Push.reported_at.is_(None),
            Push.id.not_in(open_),
        )
    )
    return list(rows)


async def take_report_turn(session: AsyncSession, push_id: int) -> bool:
    """Exactly one worker wins the right to send a push's delivery report."""
    result = await session.execute(
        update(Push)
        .where(Push.id == push_id, Push.reported_at.is_(None))
        .values(reported_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


async def creator_of(session: AsyncSession, push_id: int) -> int | None:
    return await session.scalar(select(Push.created_by).where(Push.id == push_id))


async def push_id_for_key(session: AsyncSession, key: str) -> int | None:
    """The push queued under this key, if any (a keyed push goes out once)."""
    return await session.scalar(select(Push.id).where(Push.key == key))


async def push_created_at(session: AsyncSession, key: str) -> datetime | None:
    """When the push with this key was queued, if it was."""
    return await session.scalar(select(Push.created_at).where(Push.key == key))


async def pushes_created_at(session: AsyncSession, keys: Collection[str]) -> dict[str, datetime]:
    """When each of the pushes with these keys was queued (keys never queued are left out),
    in one query."""
    if not keys:
        return {}
    rows = await session.execute(select(Push.key, Push.created_at).where(Push.key.in_(list(keys))))
    return {key: created for key, created in rows if key is not None}


async def has_unfinished(
    session: AsyncSession, platforms: Collection[str], now: datetime | None = None
) -> bool:
    """Anything for these platforms not yet settled (due now, or claimed, or in flight)."""
    row = await session.scalar(
        select(Delivery.id)
        .where(
            Delivery.platform.in_(list(platforms)),
            Delivery.status.in_(UNFINISHED),
            or_(Delivery.status != PENDING, Delivery.next_attempt_at <= (now or utcnow())),
        )
        .limit(1)
    )
    return row is not None


# Kinds of push the delivery lists leave out: a sign-in code is a message to one person that
# says nothing to the admins reading the list, and a stranger asking for codes would bury the
# broadcasts under them.
SIGN_IN_CODE = "sign_in_code"
UNLISTED_KINDS = (SIGN_IN_CODE,)


async def recent_pushes(session: AsyncSession, limit: int = 20) -> list[PushSummary]:
    """The newest pushes first (of the kinds an admin's list shows)."""
    rows = await session.scalars(
        select(Push).where(Push.kind.not_in(UNLISTED_KINDS)).order_by(Push.id.desc()).limit(limit)
    )
    return [PushSummary(p.id, p.kind, p.title, p.created_at) for p in rows]


# --- waking the workers ----------------------------------------------------------------------
# Work queued in this process wakes its workers as its unit of work commits (not before: they
# must find the rows), so they need not poll for it; what another process queues, they find by
# their slow poll. A wake-up that finds nothing costs one read, so waking too often is harmless.

DELIVERIES, CHAT_ACTIONS = "deliveries", "chat_actions"  # topics: which workers to wake
_QUEUED = "ccin_bridge.queued"  # in Session.info: the topics this unit of work queued for
Waker = Callable[[], None]
_wakers: dict[tuple[Engine, str], list[Waker]] = {}


def queued(session: AsyncSession, topic: str) -> None:
    """This unit of work queued work for `topic`: wake its workers when it commits."""
    session.info.setdefault(_QUEUED, set()).add(topic)


def on_queued(engine: AsyncEngine, topic: str, waker: Waker) -> Callable[[], None]:
    """Call `waker` after every commit on `engine` that queued work for `topic` (in the
    committing thread: it must be quick and thread-safe); returns what unsubscribes it."""
    key = (engine.sync_engine, topic)
    _wakers.setdefault(key, []).append(waker)

    def unsubscribe() -> None:
        wakers = _wakers.get(key, [])
        if waker in wakers:
            wakers.remove(waker)
        if not wakers:
            _wakers.pop(key, None)

    return unsubscribe


@event.listens_for(Session, "after_commit")
def _wake_workers(session: Session) -> None:
    for topic in session.info.pop(_QUEUED, ()):
        for waker in list(_wakers.get((session.bind, topic), ())):  # type: ignore[arg-type]
            waker()


@event.listens_for(Session, "after_rollback")
def _forget_queued(session: Session) -> None:
    session.info.pop(_QUEUED, None)


async def set_payload(session: AsyncSession, push_id: int, payload: dict[str, Any]) -> None:
    """Replace a push's reply in the unit of work that queued it, before any lane can send
    it (its links put behind the click redirect: handlers/click_links.py)."""
    await session.execute(update(Push).where(Push.id == push_id).values(payload=payload))
