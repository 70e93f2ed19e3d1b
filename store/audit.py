"""The audit log: every admin action and every change to someone's membership."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import AuditEntry, utcnow


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


async def recent(session: AsyncSession, limit: int = 50) -> list[AuditEntry]:
    rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
    return list(rows)
