"""Build the search index (search_docs + vocabulary) from case studies, projects and suppliers.

The database keeps the full-text structures in step with search_docs by itself (FTS5
triggers, a generated tsvector); this module decides what text goes in.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import CaseStudy, Project, SearchDoc, SearchTerm, Supplier
from store.text import fold, words

BATCH = 2_000
_YEAR = re.compile(r"(\d{4})")


def first_year(label: str | None) -> int | None:
    match = _YEAR.search(label or "")
    return int(match.group(1)) if match else None


def _facets(values: Iterable[str]) -> str:
    folded = [fold(v).strip() for v in values if v and v.strip()]
    return ";" + ";".join(folded) + ";" if folded else ""


def _doc(
    *,
    kind: str,
    ref_id: int,
    title: str,
    url: str | None,
    member: str | None,
    region: str | None,
    year: str | None,
    categories: list[str],
    principles: list[str],
    summary: str,
    body: str,
    extra_tags: Iterable[str] = (),
) -> dict[str, object]:
    tags = [member or "", region or "", *categories, *principles, *extra_tags]
    return {
        "kind": kind, "ref_id": ref_id, "title": title, "url": url, "member": member,
        "region": region, "year_from": first_year(year), "year_label": year,
        "categories": categories, "principles": principles, "summary": summary,
        "text_title": fold(title), "text_tags": fold(" ; ".join(t for t in tags if t)),
        "text_body": fold(f"{summary}\n{body}"),
        "facet_categories": _facets(categories), "facet_principles": _facets(principles),
    }  # fmt: skip


async def _documents(session: AsyncSession) -> list[dict[str, object]]:
    docs: list[dict[str, object]] = []
    for c in await session.scalars(select(CaseStudy)):
        docs.append(_doc(
            kind="case_study", ref_id=c.id, title=c.title, url=c.url, member=c.member,
            region=c.region, year=c.year, categories=list(c.categories),
            principles=list(c.principles), summary=c.summary, body=c.body,
        ))  # fmt: skip
    for p in await session.scalars(select(Project)):
        label = p.kind.replace("_", " ")
        docs.append(_doc(
            kind="publication" if p.kind == "report" else "project", ref_id=p.id,
            title=p.title, url=p.url, member=p.lead, region=None, year=p.year, categories=[],
            principles=[], summary=p.summary, body="", extra_tags=[label, *p.partners],
        ))  # fmt: skip
    for s in await session.scalars(select(Supplier)):
        docs.append(_doc(
            kind="supplier", ref_id=s.id, title=s.name, url=s.website, member=None, region=None,
            year=None, categories=list(s.lots), principles=[], summary=s.services or "", body="",
            extra_tags=["dynamic purchasing system", "dps supplier"],
        ))  # fmt: skip
    return docs


async def ensure(session: AsyncSession) -> int | None:
    """Build the index if it is empty but there is something to index (e.g. after an upgrade)."""
    if await session.scalar(select(func.count()).select_from(SearchDoc)):
        return None
    if not any(
        [
            await session.scalar(select(func.count()).select_from(model))
            for model in (CaseStudy, Project, Supplier)
        ]
    ):
        return None
    return await rebuild(session)


async def rebuild(session: AsyncSession) -> int:
    """Replace the whole index; returns how many documents it holds."""
    docs = await _documents(session)
    await session.execute(delete(SearchDoc))
    for start in range(0, len(docs), BATCH):
        await session.execute(insert(SearchDoc), docs[start : start + BATCH])
    vocabulary: Counter[str] = Counter()
    for doc in docs:
        text = " ".join(str(doc[k]) for k in ("text_title", "text_tags", "text_body"))
        vocabulary.update({w for w in words(text) if 3 <= len(w) <= 64 and not w.isdigit()})
    await session.execute(delete(SearchTerm))
    rows = [{"term": term, "docs": count} for term, count in vocabulary.items()]
    for start in range(0, len(rows), BATCH * 5):
        await session.execute(insert(SearchTerm), rows[start : start + BATCH * 5])
    return len(docs)
