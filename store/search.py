"""Search over case studies and funded projects with simple weighted relevance.

Every word of the query is stemmed and matched as a prefix of the documents' words; a field's
weight counts more for rare words (an idf factor), and documents matching more of the query's
words rank first. The corpus is hundreds of rows, scored in memory per query.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import CaseStudy, Project
from store.records import SearchHit, SearchPage
from store.text import stem, words

KINDS = ("case_study", "project")
WEIGHTS = {"title": 4.0, "tags": 2.0, "summary": 1.5, "body": 1.0}


@dataclass(frozen=True)
class _Doc:
    hit: SearchHit
    fields: dict[str, frozenset[str]]


def _tokens(*texts: str | None) -> frozenset[str]:
    return frozenset(w for text in texts if text for w in words(text))


async def _documents(session: AsyncSession, kinds: Sequence[str]) -> list[_Doc]:
    docs: list[_Doc] = []
    if "case_study" in kinds:
        for c in await session.scalars(select(CaseStudy)):
            tags = (c.member or "", *c.categories, *c.principles, c.region or "")
            hit = SearchHit(
                kind="case_study",
                id=c.id,
                title=c.title,
                url=c.url,
                member=c.member,
                year=c.year,
                summary=c.summary,
                score=0.0,
                tags=tuple(c.categories),
            )
            docs.append(_Doc(hit, _fields(c.title, tags, c.summary, c.body)))
    if "project" in kinds:
        for p in await session.scalars(select(Project)):
            kind_label = p.kind.replace("_", " ")
            tags = (p.lead or "", *p.partners, kind_label)
            hit = SearchHit(
                kind="project",
                id=p.id,
                title=p.title,
                url=p.url,
                member=p.lead,
                year=p.year,
                summary=p.summary,
                score=0.0,
                tags=(kind_label,),
            )
            docs.append(_Doc(hit, _fields(p.title, tags, p.summary, "")))
    return docs


def _fields(title: str, tags: Iterable[str], summary: str, body: str) -> dict[str, frozenset[str]]:
    return {
        "title": _tokens(title),
        "tags": _tokens(*tags),
        "summary": _tokens(summary),
        "body": _tokens(body),
    }


def _matches(term: str, tokens: frozenset[str]) -> bool:
    return term in tokens or any(token.startswith(term) for token in tokens)


async def search(
    session: AsyncSession,
    query: str,
    *,
    kinds: Sequence[str] = KINDS,
    offset: int = 0,
    limit: int = 5,
) -> SearchPage:
    terms = [stem(w) for w in words(query)]
    if not terms:
        return SearchPage(hits=(), total=0, offset=offset)
    docs = await _documents(session, kinds)
    matched: dict[str, list[float]] = {t: [] for t in terms}
    scored: list[tuple[int, float, SearchHit]] = []
    per_doc: list[tuple[_Doc, dict[str, float]]] = []
    for doc in docs:
        weights = {}
        for term in terms:
            best = max(
                (WEIGHTS[f] for f, tokens in doc.fields.items() if _matches(term, tokens)),
                default=0.0,
            )
            if best:
                weights[term] = best
                matched[term].append(best)
        if weights:
            per_doc.append((doc, weights))
    for doc, weights in per_doc:
        score = sum(w * math.log(1 + len(docs) / len(matched[term])) for term, w in weights.items())
        scored.append((len(weights), score, doc.hit))
    scored.sort(key=lambda row: (-row[0], -row[1], row[2].title))
    page = [
        SearchHit(**{**vars(hit), "score": round(score, 3)})
        for _, score, hit in scored[offset : offset + limit]
    ]
    return SearchPage(hits=tuple(page), total=len(scored), offset=offset)
