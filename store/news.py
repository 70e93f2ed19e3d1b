"""News items for the digest: submitted -> approved | rejected, then marked when digested."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import NewsItem, Person, utcnow

SUBMITTED, APPROVED, REJECTED = "submitted", "approved", "rejected"


@dataclass(frozen=True)
class NewsRecord:
    id: int
    title: str
    body: str
    url: str | None
    status: str
    submitted_by: int | None
    submitter_name: str
    created_at: datetime
    audience: str | None
    decided_by: int | None
    decided_at: datetime | None
    reason: str | None
    digested_at: datetime | None


async def _record(session: AsyncSession, item: NewsItem) -> NewsRecord:
    name = (
        await session.scalar(select(Person.display_name).where(Person.id == item.submitted_by))
        if item.submitted_by is not None
        else None
    )
    return NewsRecord(
        id=item.id,
        title=item.title,
        body=item.body,
        url=item.url,
        status=item.status,
        submitted_by=item.submitted_by,
        submitter_name=name or "someone who has since left",
        created_at=item.created_at,
        audience=item.audience,
        decided_by=item.decided_by,
        decided_at=item.decided_at,
        reason=item.reason,
        digested_at=item.digested_at,
    )


async def submit(
    session: AsyncSession,
    *,
    person_id: int,
    title: str,
    body: str,
    url: str | None,
    audience: str | None = None,
    now: datetime | None = None,
) -> NewsRecord:
    item = NewsItem(
        title=title,
        body=body,
        url=url,
        status=SUBMITTED,
        submitted_by=person_id,
        audience=audience,
        created_at=now or utcnow(),
    )
    session.add(item)
    await session.flush()
    return await _record(session, item)


async def get(session: AsyncSession, news_id: int) -> NewsRecord | None:
    item = await session.get(NewsItem, news_id)
    return await _record(session, item) if item is not None else None


async def waiting(session: AsyncSession, limit: int = 20) -> list[NewsRecord]:
    """Submissions no admin has decided on yet, oldest first."""
    rows = await session.scalars(
        select(NewsItem).where(NewsItem.status == SUBMITTED).order_by(NewsItem.id).limit(limit)
    )
    return [await _record(session, item) for item in rows]


async def decide(
    session: AsyncSession,
    news_id: int,
    *,
    status: str,
    by: int,
    reason: str | None = None,
    now: datetime | None = None,
) -> NewsRecord | None:
    """Approve or reject a submission still waiting; None if it is not waiting (any more).

    One UPDATE guarded by the status, so two admins pressing at once decide it only once.
    """
    if status not in (APPROVED, REJECTED):
        raise ValueError(f"not a decision: {status!r}")
    result = await session.execute(
        update(NewsItem)
        .where(NewsItem.id == news_id, NewsItem.status == SUBMITTED)
        .values(status=status, decided_by=by, decided_at=now or utcnow(), reason=reason)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        return None
    item = await session.get(NewsItem, news_id, populate_existing=True)
    return await _record(session, item) if item is not None else None


async def edit(
    session: AsyncSession, news_id: int, *, title: str, body: str, url: str | None
) -> NewsRecord | None:
    item = await session.get(NewsItem, news_id)
    if item is None:
        return None
    item.title, item.body, item.url = title, body, url
    await session.flush()
    return await _record(session, item)


async def approved_since(
    session: AsyncSession, audience: str, since: datetime | None, first_since: datetime
) -> list[NewsRecord]:
    """Approved news for this audience (or every audience) approved after `since`, this
    audience's previous digest.

    Items for every audience go into each audience's digest once, so inclusion is judged
    against that audience's previous digest, not against `digested_at` (which the first
    digest to carry an item sets). An audience's first digest carries what was approved
    after `first_since` plus anything no digest has carried yet.
    """
    statement = select(NewsItem).where(
        NewsItem.status == APPROVED,
        or_(NewsItem.audience.is_(None), NewsItem.audience == audience),
    )
    if since is not None:
        statement = statement.where(NewsItem.decided_at > since)
    else:
        statement = statement.where(
            or_(NewsItem.decided_at > first_since, NewsItem.digested_at.is_(None))
        )
    rows = await session.scalars(statement.order_by(NewsItem.decided_at, NewsItem.id))
    return [await _record(session, item) for item in rows]


async def mark_digested(
    session: AsyncSession, news_ids: Collection[int], now: datetime | None = None
) -> None:
    if not news_ids:
        return
    await session.execute(
        update(NewsItem)
        .where(NewsItem.id.in_(list(news_ids)), NewsItem.digested_at.is_(None))
        .values(digested_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
