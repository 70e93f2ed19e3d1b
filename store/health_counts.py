"""What `/readyz` and `/metrics` read from the database: a ping, and the queues' sizes.

Counts only, never a row's content: what is exported about the outbox, the chat-action queue
and the inbound journal names no person and no message.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store import chat_actions, inbox, outbox
from ccin_bridge.store.models import ChatAction, Delivery, InboundUpdate

# The deliveries' outcomes shown as such, beside the outbox's unfinished statuses.
OUTCOMES = (outbox.SENT, outbox.FAILED, outbox.BLOCKED, "in_doubt")
BACKLOG = (chat_actions.PENDING, chat_actions.RUNNING)


@dataclass(frozen=True)
class QueueCounts:
    outbox: dict[str, int]  # deliveries not finished, by status (pending, claimed, sending)
    deliveries: dict[str, int]  # rows kept by outcome; in_doubt: flagged as possibly repeated
    chat_actions: dict[str, int]  # chat changes waiting or under way, by status
    inbound: dict[str, int]  # stored updates not yet done, by platform


async def ping(session: AsyncSession) -> None:
    """Raises if the database does not answer."""
    await session.execute(text("SELECT 1"))


async def queue_counts(session: AsyncSession) -> QueueCounts:
    """One grouped count per table (the deliveries' in a single pass)."""
    by_status = await session.execute(
        select(
            Delivery.status,
            func.count(),
            func.coalesce(func.sum(case((Delivery.in_doubt, 1), else_=0)), 0),
        ).group_by(Delivery.status)
    )
    depth = dict.fromkeys(outbox.UNFINISHED, 0)
    outcomes = dict.fromkeys(OUTCOMES, 0)
    for status, count, doubtful in by_status:
        if status in depth:
            depth[status] = count
        elif status in outcomes:
            outcomes[status] = count
        outcomes["in_doubt"] += doubtful
    actions = dict.fromkeys(BACKLOG, 0)
    rows = await session.execute(
        select(ChatAction.status, func.count())
        .where(ChatAction.status.in_(BACKLOG))
        .group_by(ChatAction.status)
    )
    actions.update({status: count for status, count in rows})
    rows = await session.execute(
        select(InboundUpdate.platform, func.count())
        .where(InboundUpdate.status.in_(inbox.OPEN))
        .group_by(InboundUpdate.platform)
    )
    return QueueCounts(depth, outcomes, actions, {platform: count for platform, count in rows})
