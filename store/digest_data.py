"""What a monthly digest is made of, read from the store for one audience.

"Since the last digest" is the time of this audience's previous digest push (kind `digest`).
Only records that admins imported count as new: the reference data loaded with the bridge
(its seeds) was not news when it was installed. For the DPS the store knows when a supplier
was added to the list, not when one left it, so the digest names additions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store import news, reference
from ccin_bridge.store.models import CaseStudy, Project, Push, Supplier
from ccin_bridge.store.news import NewsRecord
from ccin_bridge.store.records import DpsRecord, EventRecord

DIGEST_KIND = "digest"
IMPORTED = "import:%"  # the `source` of every record `ccin-bridge import` wrote


@dataclass(frozen=True)
class NewItem:
    """A case study or funded project added since the last digest."""

    title: str
    url: str | None
    detail: str  # member and year, or the project's kind and lead


@dataclass(frozen=True)
class DigestData:
    audience: str
    since: datetime | None  # the previous digest for this audience, if any
    news: tuple[NewsRecord, ...]
    events: tuple[EventRecord, ...]  # every event; the caller picks the next six weeks
    case_studies: tuple[NewItem, ...]
    case_studies_total: int
    projects: tuple[NewItem, ...]
    projects_total: int
    dps: DpsRecord | None
    new_suppliers: tuple[str, ...] = ()  # imported onto the DPS list since the last digest


async def last_digest_at(session: AsyncSession, audience: str) -> datetime | None:
    return await session.scalar(
        select(func.max(Push.created_at)).where(Push.kind == DIGEST_KIND, Push.audience == audience)
    )


_Added = TypeVar("_Added", CaseStudy, Project)


async def _newest(
    session: AsyncSession, model: type[_Added], window: datetime, limit: int
) -> tuple[list[_Added], int]:
    """Records imported after `window`: the newest `limit` of them, and how many in all."""
    new = (model.created_at > window) & model.source.like(IMPORTED)
    rows = await session.scalars(
        select(model).where(new).order_by(model.created_at.desc(), model.id.desc()).limit(limit)
    )
    total = await session.scalar(select(func.count()).select_from(model).where(new))
    return list(rows), int(total or 0)


async def gather(
    session: AsyncSession, audience: str, *, added_since: datetime, limit: int = 5
) -> DigestData:
    """Everything for one audience's digest. When this audience has had no digest yet,
    `added_since` (the previous edition's date) bounds what counts as new."""
    since = await last_digest_at(session, audience)
    window = since or added_since
    studies, studies_total = await _newest(session, CaseStudy, window, limit)
    projects, projects_total = await _newest(session, Project, window, limit)
    new_suppliers = await session.scalars(
        select(Supplier.name)
        .where(Supplier.created_at > window, Supplier.source.like(IMPORTED))
        .order_by(Supplier.name)
    )
    return DigestData(
        audience=audience,
        since=since,
        news=tuple(await news.approved_since(session, audience, since, added_since)),
        events=tuple(await reference.events(session)),
        case_studies=tuple(
            NewItem(s.title, s.url, ", ".join(x for x in (s.member, s.year) if x)) for s in studies
        ),
        case_studies_total=studies_total,
        projects=tuple(
            NewItem(p.title, p.url, ", ".join(x for x in (p.kind.replace("_", " "), p.lead) if x))
            for p in projects
        ),
        projects_total=projects_total,
        dps=await reference.dps(session),
        new_suppliers=tuple(new_suppliers),
    )
