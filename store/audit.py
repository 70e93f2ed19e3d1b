"""The audit log: every admin action and every change to someone's membership."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import AuditEntry, utcnow
from ccin_bridge.store.records import AuditRecord


async def record(
    session: AsyncSession,
    *,
    actor_id: int | None,
    action: str,
    subject_id: int | None = None,
    **detail: Any,
) -> None:
    """`subject_id`: the person the entry is about, whose erasure redacts it."""
    session.add(
        AuditEntry(
            at=utcnow(), actor_id=actor_id, subject_id=subject_id, action=action, detail=detail
        )
    )


async def recent(session: AsyncSession, limit: int = 50) -> list[AuditRecord]:
    """The newest entries first."""
    rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
    return [AuditRecord(e.id, e.at, e.actor_id, e.action, dict(e.detail)) for e in rows]


async def count_by_action(session: AsyncSession, since: datetime) -> dict[str, int]:
    """How many entries of each action were recorded from `since` on."""
    rows = await session.execute(
        select(AuditEntry.action, func.count())
        .where(AuditEntry.at >= since)
        .group_by(AuditEntry.action)
    )
    return {action: int(n) for action, n in rows}


async def entries(
    session: AsyncSession,
    *,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[AuditRecord]:
    """The newest entries first, of one action and from `since` up to (not including)
    `until` when given."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    rows = await session.scalars(query)
    return [AuditRecord(e.id, e.at, e.actor_id, e.action, dict(e.detail)) for e in rows]


async def actions(session: AsyncSession) -> list[str]:
    """Every action the log holds, for a filter's choices."""
    return list(await session.scalars(select(AuditEntry.action).distinct().order_by("action")))
