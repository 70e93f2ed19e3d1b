"""What a monthly digest is made of, read from the store for one audience.

"Since the last digest" is the time of this audience's previous digest push (kind `digest`).
Only records that admins imported count as new: the reference data loaded with the bridge
(its seeds) was not news when it was installed. For the DPS the store knows when a supplier
was added to the list, not when one left it, so the digest names additions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store import news, reference
from store.models import CaseStudy, Project, Push, Supplier
from store.news import NewsRecord
from store.records import DpsRecord, EventRecord

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


async def gather(
    session: AsyncSession, audience: str, *, added_since: datetime, limit: int = 5
) -> DigestData:
    """Everything for one audience's digest. When this audience has had no digest yet,
    `added_since` (the previous edition's date) bounds what counts as new."""
    since = await last_digest_at(session, audience)
    window = since or added_since
    new_study = (CaseStudy.created_at > window) & CaseStudy.source.like(IMPORTED)
    studies = list(
        await session.scalars(
            select(CaseStudy)
            .where(new_study)
            .order_by(CaseStudy.created_at.desc(), CaseStudy.id.desc())
            .limit(limit)
        )
    )
    studies_total = await session.scalar(
        select(func.count()).select_from(CaseStudy).where(new_study)
    )
    new_project = (Project.created_at > window) & Project.source.like(IMPORTED)
    projects = list(
        await session.scalars(
            select(Project)
            .where(new_project)
            .order_by(Project.created_at.desc(), Project.id.desc())
            .limit(limit)
        )
    )
    projects_total = await session.scalar(
        select(func.count()).select_from(Project).where(new_project)
    )
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
        case_studies_total=int(studies_total or 0),
        projects=tuple(
            NewItem(p.title, p.url, ", ".join(x for x in (p.kind.replace("_", " "), p.lead) if x))
            for p in projects
        ),
        projects_total=int(projects_total or 0),
        dps=await reference.dps(session),
        new_suppliers=tuple(new_suppliers),
    )
