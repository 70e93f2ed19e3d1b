"""The inbound journal: platform updates stored before they are acknowledged.

pending -> handled (a command's effects and its replies committed together) -> done, or
skipped (unreadable, or failed too often). See `InboundUpdate` for why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import InboundUpdate, utcnow
from ccin_bridge.store.upsert import insert_for

PENDING, HANDLED, DONE, SKIPPED = "pending", "handled", "done", "skipped"
OPEN = (PENDING, HANDLED)
KEEP_KEYS_FOR = timedelta(days=3)  # Telegram and Slack redeliver within a day at most


@dataclass(frozen=True)
class Arrival:
    """One update as it came in, before it has an id."""

    key: str
    chat_key: str
    sender: str | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class InboundItem:
    id: int
    platform: str
    chat_key: str
    payload: dict[str, Any]
    # Replies of the bridge calls this update already made, in order (after a crash); None
    # for a call that changed nothing, which runs again.
    replies: tuple[list[dict[str, Any]] | None, ...]
    attempts: int


async def add(
    session: AsyncSession, platform: str, arrivals: Sequence[Arrival]
) -> list[InboundItem]:
    """Store new arrivals (a repeat of a stored key, or within the batch, is dropped)."""
    fresh: dict[str, Arrival] = {}
    for arrival in arrivals:
        fresh.setdefault(arrival.key[:128], arrival)
    if not fresh:
        return []
    now = utcnow()
    rows = [
        {
            "platform": platform,
            "key": key,
            "chat_key": a.chat_key[:128],
            "sender": a.sender[:64] if a.sender else None,
            "payload": a.payload,
            "status": PENDING,
            "attempts": 0,
            "received_at": now,
        }
        for key, a in fresh.items()
    ]
    dialect = session.get_bind().dialect.name
    stored = sorted((await session.execute(_add_statement(dialect), rows)).all())
    return [
        InboundItem(item_id, platform, fresh[key].chat_key[:128], fresh[key].payload, (), 0)
        for item_id, key in stored
    ]


@cache
def _add_statement(dialect: str) -> Any:
    """The journal's INSERT, built once per dialect and run with a list of rows: SQLAlchemy
    compiles it once and writes each batch as one multi-row INSERT. (Built with the rows in
    `.values(...)`, it was compiled again for every batch: ~60% of storing one.)"""
    return (
        insert_for(dialect, InboundUpdate.__table__)
        .on_conflict_do_nothing(index_elements=["platform", "key"])
        .returning(InboundUpdate.id, InboundUpdate.key)
    )


async def open_items(
    session: AsyncSession, platform: str, *, ids: Iterable[int] | None = None
) -> list[InboundItem]:
    """Updates not yet done, oldest first (all of the platform's, or just these)."""
    query = select(InboundUpdate).where(
        InboundUpdate.platform == platform, InboundUpdate.status.in_(OPEN)
    )
    if ids is not None:
        query = query.where(InboundUpdate.id.in_(list(ids)))
    rows = await session.scalars(query.order_by(InboundUpdate.id))
    return [
        InboundItem(
            id=r.id,
            platform=r.platform,
            chat_key=r.chat_key,
            payload=r.payload or {},
            replies=tuple(r.replies or ()),
            attempts=r.attempts,
        )
        for r in rows
    ]


async def open_ids(session: AsyncSession, platform: str, *, up_to: int) -> list[int]:
    """The ids of updates not yet done, oldest first, up to and including `up_to`."""
    query = select(InboundUpdate.id).where(
        InboundUpdate.platform == platform,
        InboundUpdate.status.in_(OPEN),
        InboundUpdate.id <= up_to,
    )
    return list(await session.scalars(query.order_by(InboundUpdate.id)))


class AlreadyHandled(Exception):
    """Another process handled this update (it led the journal meanwhile): the unit of work
    that was about to record it again rolls back, its effects with it."""


async def record_replies(
    session: AsyncSession, item_id: int, call: int, replies: list[dict[str, Any]]
) -> None:
    """Inside the unit of work of the update's `call`-th bridge call: its replies, so that
    after a crash they are sent again instead of the command running twice. The row is
    locked, so of two processes handling one update (a lead lost and taken over in between)
    one records the call and the other raises AlreadyHandled."""
    row = await session.get(InboundUpdate, item_id, with_for_update=True)
    if row is None:  # erased with its sender
        return
    recorded = list(row.replies or ())
    if row.status not in OPEN or (call < len(recorded) and recorded[call] is not None):
        raise AlreadyHandled(item_id)
    stored: list[Any] = recorded[:call]
    stored += [None] * (call - len(stored))  # calls before it that changed nothing run again
    row.replies, row.status = [*stored, replies], HANDLED


async def attempted(session: AsyncSession, item_id: int) -> None:
    await session.execute(
        update(InboundUpdate)
        .where(InboundUpdate.id == item_id)
        .values(attempts=InboundUpdate.attempts + 1)
    )


async def finish(
    session: AsyncSession, item_ids: Iterable[int], *, status: str = DONE, now: datetime
) -> None:
    """Done (or skipped): the content goes, the key stays against repeats."""
    ids = list(item_ids)
    if ids:
        await session.execute(
            update(InboundUpdate)
            .where(InboundUpdate.id.in_(ids))
            .values(status=status, payload=None, replies=None, done_at=now)
        )


async def purge(session: AsyncSession, now: datetime) -> int:
    """Forget the keys of updates finished long enough ago that no repeat can come."""
    result = await session.execute(
        delete(InboundUpdate).where(
            InboundUpdate.status.in_((DONE, SKIPPED)),
            InboundUpdate.done_at < now - KEEP_KEYS_FOR,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def erase_sender(session: AsyncSession, platform: str, sender: str) -> None:
    """Erasure: updates that came from this account, whatever their state."""
    await session.execute(
        delete(InboundUpdate).where(
            InboundUpdate.platform == platform, InboundUpdate.sender == sender
        )
    )
