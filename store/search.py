"""Relevance-ranked full-text search: SQLite FTS5 with BM25, or PostgreSQL full-text search.

Words match as stems and prefixes; quoted phrases match in order; unknown words are corrected to
the index's vocabulary. When no document has every word, results with some of them are shown
(and the page says so). Filters (kind, member, region, category, principle, years) narrow
either way. Any user string is safe: only folded word characters reach the engines' syntax.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from store.query import Query, parse
from store.records import SearchHit, SearchPage
from store.spelling import speller_for
from store.text import fold, like_pattern

KINDS = ("case_study", "project", "publication", "supplier")
# bm25 column weights: title, tags (member, categories, principles), body
SQLITE_WEIGHTS = "10.0, 4.0, 1.0"
_SAFE = re.compile(r"[^\w]+", re.UNICODE)


@dataclass(frozen=True)
class _Terms:
    """Each query word with the spelling it was corrected to, if any."""

    words: tuple[tuple[str, str | None, bool], ...]  # (word, correction, match as prefix)
    phrases: tuple[tuple[str, ...], ...]


def _safe(word: str) -> str:
    return _SAFE.sub("", word)


def _fts5_match(terms: _Terms, *, every: bool) -> str:
    parts = []
    for word, fix, prefix in terms.words:
        star = "*" if prefix else ""
        options = [f'"{_safe(word)}"{star}'] + ([f'"{_safe(fix)}"'] if fix else [])
        parts.append(options[0] if len(options) == 1 else f"({' OR '.join(options)})")
    parts += ['"' + " ".join(_safe(w) for w in phrase) + '"' for phrase in terms.phrases]
    return f" {'AND' if every else 'OR'} ".join(parts)


def _pg_query(terms: _Terms, *, every: bool, params: dict[str, Any]) -> str:
    """A tsquery SQL expression; phrases go through phraseto_tsquery, which knows stopwords."""
    parts = []
    for word, fix, prefix in terms.words:
        options = [_safe(word) + (":*" if prefix else "")] + ([_safe(fix)] if fix else [])
        parts.append(f"({' | '.join(options)})")
    expressions = []
    if parts:
        params["tsq"] = f" {'&' if every else '|'} ".join(parts)
        expressions.append("to_tsquery('english', :tsq)")
    for n, phrase in enumerate(terms.phrases):
        params[f"phrase{n}"] = " ".join(phrase)
        expressions.append(f"phraseto_tsquery('english', :phrase{n})")
    return f" {'&&' if every else '||'} ".join(expressions)


def _filters(query: Query, kinds: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    if kinds:
        names = [f":kind{i}" for i in range(len(kinds))]
        where.append(f"d.kind IN ({', '.join(names)})")
        params.update({f"kind{i}": k for i, k in enumerate(kinds)})
    for name, column in (("member", "d.member"), ("region", "d.region")):
        value = getattr(query, name)
        if value:
            where.append(f"lower(coalesce({column}, '')) LIKE :{name} ESCAPE '\\'")
            params[name] = like_pattern(value.casefold())
    for name, column in (("category", "d.facet_categories"), ("principle", "d.facet_principles")):
        value = getattr(query, name)
        if value:
            where.append(f"{column} LIKE :{name} ESCAPE '\\'")
            params[name] = like_pattern(fold(value).strip())
    if query.years:
        where.append("d.year_from BETWEEN :year_start AND :year_end")
        params["year_start"], params["year_end"] = query.years
    return where, params


COLUMNS = "d.kind, d.ref_id, d.title, d.url, d.member, d.year_label, d.summary, d.categories"


async def search(
    session: AsyncSession,
    query: str | Query,
    *,
    kinds: Sequence[str] = (),
    offset: int = 0,
    limit: int = 5,
) -> SearchPage:
    parsed = parse(query) if isinstance(query, str) else query
    kinds = parsed.kinds or tuple(kinds)
    if not parsed.has_text and not parsed.has_filters:
        return SearchPage(hits=(), total=0, offset=offset, problems=parsed.problems)
    dialect = session.get_bind().dialect.name
    corrections: dict[str, str] = {}
    if parsed.words:
        bind = session.get_bind()
        speller = await speller_for(session, str(bind.engine.url))
        for word in parsed.words:
            fix = speller.correct(word)
            if fix:
                corrections[word] = fix
        # A complete word matches its stem; only an unfinished one (`sustain`) is a prefix.
        exact = {w for w in parsed.words if speller.has(w)}
    else:
        exact = set()
    terms = _Terms(
        tuple((w, corrections.get(w), w not in exact) for w in parsed.words), parsed.phrases
    )
    where, params = _filters(parsed, kinds)
    params.update(limit=limit, offset=offset)

    async def run(every: bool) -> tuple[list[Any], int]:
        if not parsed.has_text:
            sql = (
                f"SELECT {COLUMNS}, 0.0 AS score, count(*) OVER () AS total FROM search_docs d "
                f"{'WHERE ' + ' AND '.join(where) if where else ''} "
                "ORDER BY d.year_from DESC NULLS LAST, d.title LIMIT :limit OFFSET :offset"
            )
        elif dialect == "sqlite" and not where:
            # Rank and page inside FTS5 (BM25 as its `rank`), so only one page is joined;
            # the total comes from a plain count over the index.
            params["match"] = _fts5_match(terms, every=every)
            total = await session.scalar(
                text("SELECT count(*) FROM search_fts WHERE search_fts MATCH :match"), params
            )
            sql = (
                f"SELECT {COLUMNS}, m.score FROM ("
                "SELECT rowid AS id, -rank AS score FROM search_fts WHERE search_fts MATCH :match "
                f"AND rank MATCH 'bm25({SQLITE_WEIGHTS})' ORDER BY rank, rowid "
                "LIMIT :limit OFFSET :offset) m JOIN search_docs d ON d.id = m.id "
                "ORDER BY m.score DESC, m.id"  # rowid breaks ties, so pages never overlap
            )
            return list((await session.execute(text(sql), params)).all()), int(total or 0)
        elif dialect == "sqlite":
            params["match"] = _fts5_match(terms, every=every)
            # bm25() is only allowed in a plain FTS query, so rank there and count outside.
            sql = (
                f"SELECT {COLUMNS}, m.score, count(*) OVER () AS total FROM ("
                f"SELECT rowid AS id, -bm25(search_fts, {SQLITE_WEIGHTS}) AS score "
                "FROM search_fts WHERE search_fts MATCH :match) m "
                "JOIN search_docs d ON d.id = m.id "
                f"{'WHERE ' + ' AND '.join(where) if where else ''} "
                "ORDER BY m.score DESC, d.title LIMIT :limit OFFSET :offset"
            )
        else:
            query_sql = _pg_query(terms, every=every, params=params)
            sql = (
                f"SELECT {COLUMNS}, ts_rank_cd(d.tsv, s.q, 1) AS score, "
                f"count(*) OVER () AS total FROM search_docs d, (SELECT {query_sql} AS q) s "
                "WHERE d.tsv @@ s.q "
                f"{''.join(' AND ' + w for w in where)} "
                "ORDER BY score DESC, d.title LIMIT :limit OFFSET :offset"
            )
        rows = list((await session.execute(text(sql), params)).all())
        if rows or offset == 0:
            return rows, int(rows[0].total) if rows else 0
        # Past the last page: still report the total so the caller can say "no more".
        params.update(limit=1, offset=0)
        first = list((await session.execute(text(sql), params)).all())
        params.update(limit=limit, offset=offset)
        return [], int(first[0].total) if first else 0

    rows, total = await run(every=True)
    relaxed = False
    if total == 0 and len(parsed.words) + len(parsed.phrases) > 1:
        rows, total = await run(every=False)
        relaxed = total > 0
    hits = tuple(
        SearchHit(
            kind=r.kind, id=r.ref_id, title=r.title, url=r.url, member=r.member,
            year=r.year_label, summary=r.summary, score=round(float(r.score), 4),
            tags=tuple(_json_list(r.categories)),
        )
        for r in rows
    )  # fmt: skip
    return SearchPage(
        hits=hits, total=total, offset=offset, corrections=corrections, relaxed=relaxed,
        problems=parsed.problems, terms=tuple(
            [fix or word for word, fix, _ in terms.words] + [w for p in terms.phrases for w in p]
        ),
    )  # fmt: skip


def _json_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):  # SQLite returns JSON columns as text through raw SQL
        loaded = json.loads(value or "[]")
        return [str(v) for v in loaded] if isinstance(loaded, list) else []
    return []
