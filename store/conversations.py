"""Step-by-step flows in progress (one per identity), so a half-finished flow can resume."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import Conversation, Identity, utcnow

# A flow untouched this long is forgotten rather than hijacking someone's next message.
EXPIRY = timedelta(days=2)


@dataclass(frozen=True)
class ConversationRecord:
    command: str
    step: str
    data: dict[str, Any]
    updated_at: datetime


async def current(
    session: AsyncSession, identity_id: int, now: datetime | None = None
) -> ConversationRecord | None:
    row = await session.get(Conversation, identity_id)
    if row is None:
        return None
    if row.updated_at < (now or utcnow()) - EXPIRY:
        await session.delete(row)
        return None
    return ConversationRecord(row.command, row.step, dict(row.data), row.updated_at)


async def waiting(
    session: AsyncSession, platform: str, external_id: str, now: datetime | None = None
) -> bool:
    """Whether a flow that has not expired waits for this account's next answer. Reads only."""
    found = await session.scalar(
        select(Conversation.identity_id)
        .join(Identity, Identity.id == Conversation.identity_id)
        .where(
            Identity.platform == platform,
            Identity.external_id == external_id,
            Conversation.updated_at >= (now or utcnow()) - EXPIRY,
        )
    )
    return found is not None


async def save(
    session: AsyncSession, identity_id: int, *, command: str, step: str, data: dict[str, Any]
) -> None:
    row = await session.get(Conversation, identity_id)
    if row is None:
        row = Conversation(identity_id=identity_id, command=command)
        session.add(row)
    row.command, row.step, row.data, row.updated_at = command, step, dict(data), utcnow()
    await session.flush()


async def clear(session: AsyncSession, identity_id: int) -> bool:
    result = await session.execute(
        delete(Conversation).where(Conversation.identity_id == identity_id)
    )
    return bool(getattr(result, "rowcount", 0))
