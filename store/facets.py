"""The network's ten principles and the case-study categories, and which of them (and which
search filters and kinds) some indexed document carries: hints only suggest what finds
something."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ccin_bridge.store.models import Category, Principle, SearchDoc
from ccin_bridge.store.search import KINDS
from ccin_bridge.store.text import fold


@dataclass(frozen=True)
class Facet:
    name: str
    description: str | None
    documents: int  # indexed documents carrying it
    number: int | None = None  # principles are numbered


@dataclass(frozen=True)
class InUse:
    """What the index can match: kinds with documents, and whether any document has a region,
    a category or a principle."""

    kinds: tuple[str, ...]
    region: bool
    category: bool
    principle: bool


async def in_use(session: AsyncSession) -> InUse:
    async def some(*conditions: ColumnElement[bool]) -> bool:
        return bool(await session.scalar(select(exists().where(*conditions))))

    kinds = tuple([k for k in KINDS if await some(SearchDoc.kind == k)])
    return InUse(
        kinds=kinds,
        region=await some(SearchDoc.region.is_not(None), SearchDoc.region != ""),
        category=await some(SearchDoc.facet_categories != ""),
        principle=await some(SearchDoc.facet_principles != ""),
    )


async def _counts(session: AsyncSession, column: InstrumentedAttribute[str]) -> dict[str, int]:
    """Documents per folded facet value (the column holds `;a;b;`)."""
    counts: dict[str, int] = {}
    rows = await session.scalars(select(column).where(column != ""))
    for value in rows:
        for part in str(value).strip(";").split(";"):
            counts[part] = counts.get(part, 0) + 1
    return counts


async def principles(session: AsyncSession) -> list[Facet]:
    counts = await _counts(session, SearchDoc.facet_principles)
    rows = await session.scalars(select(Principle).order_by(Principle.number))
    return [
        Facet(p.name, p.description, counts.get(fold(p.name).strip(), 0), p.number) for p in rows
    ]


async def categories(session: AsyncSession) -> list[Facet]:
    counts = await _counts(session, SearchDoc.facet_categories)
    rows = await session.scalars(select(Category).order_by(Category.name))
    return [Facet(c.name, c.description, counts.get(fold(c.name).strip(), 0)) for c in rows]
