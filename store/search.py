"""Relevance-ranked full-text search: SQLite FTS5 with BM25, or PostgreSQL full-text search.

Words match as stems and prefixes; quoted phrases match in order; unknown words are corrected to
the index's vocabulary. When no document has every word, results with some of them are shown
(and the page says so). Filters (kind, member, region, category, principle, years) narrow
either way. Any user string is safe: only folded word characters reach the engines' syntax.

Large corpora (SQLite): finding matches in FTS5 is cheap; BM25 is not (a pass over each
word's whole document list for its IDF, then several microseconds a row). So:
- The matches are counted by walking them newest first up to COUNT_CAP; past that the total
  is scaled from the rowid range walked and says `about`. With filters, the newest FILTER_CAP
  matches are checked and what passes is scaled the same way.
- Up to RANK_ALL matches are all ranked, by BM25 while its IDF pass stays within BM25_BUDGET
  document-list entries (every query on the network's real data), else by a cheap score.
- Beyond RANK_ALL, matches are taken newest first in windows (WINDOW, or FILTERED_WINDOW
  passing the filters) and a page is ranked within its window by the cheap score: each word
  found in the title (10) or tags (4), weighted by its rarity in the vocabulary. A page then
  costs one window, in one statement, whatever the number of matches.
Member, region, category and principle also narrow the FTS5 match through the tags column (a
necessary condition built from the vocabulary, re-checked exactly). Filters without words
page through the (kind, year_from, title) index.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import TextualSelect, text
from sqlalchemy import column as result_column
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.query import Query, parse
from ccin_bridge.store.records import SearchHit, SearchPage
from ccin_bridge.store.spelling import Speller, speller_for
from ccin_bridge.store.text import STOPWORDS, fold, like_pattern, stem, words

KINDS = ("case_study", "project", "publication", "resource", "supplier", "member")
# bm25 column weights: title, tags (member, categories, principles), body
SQLITE_WEIGHTS = "10.0, 4.0, 1.0"
_SAFE = re.compile(r"[^\w]+", re.UNICODE)
RANK_ALL = 1_000  # up to this many matches, BM25 ranks them all (every real-data query)
WINDOW = 300  # beyond that, matches are ranked a window at a time, newest first
COUNT_CAP = 5_000  # matches counted exactly; beyond that the total is estimated (`about`)
FILTER_CAP = 1_000  # newest matches checked against the filters to estimate a filtered total
BM25_BUDGET = 20_000  # document-list entries BM25's IDF pass may read before the cheap score ranks
FILTERED_WINDOW = 100  # with filters, matches are ranked in windows of this many passing them
PG_COUNTED = 1_500  # PostgreSQL: matches counted when the planner expects at most this many
PG_SAMPLE = 300  # PostgreSQL: newest matches read to scale a total (and filters' share)
PG_WINDOW = 100  # PostgreSQL ranks windows of this many (each row read is a tsvector read)
PG_FILTERED_WINDOW = 50  # with filters: the sample's passing matches often fill the first
MAX_EXPANSION = 64  # indexed words a filter word may stand for before we stop narrowing on it
_PLAIN = re.compile(r"[a-z0-9]+(?: [a-z0-9]+)*")
# PostgreSQL's english.stop words of three or more letters (shorter ones are never options).
_PG_STOPWORD_LIST = (
    "myself our ours ourselves you your yours yourself yourselves him his himself she her hers "
    "herself its itself they them their theirs themselves what which who whom this that these "
    "those are was were been being have has had having does did doing the and but because "
    "until while for with about against between into through during before after above below "
    "from down out off over under again further then once here there when where why how all "
    "any both each few more most other some such nor not only own same than too very can will "
    "just don should now"
)
_PG_STOPWORDS = frozenset(_PG_STOPWORD_LIST.split())


class Estimate(int):
    """A total estimated from the part of the matches that was read; prints `about 2,600`."""

    def __str__(self) -> str:
        return f"about {int(self):,}"

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else format(int(self), spec)


def _at_least_shown(total: int, offset: int, shown: int, limit: int) -> int:
    """An estimate never undercuts what was shown, and a full page keeps the next reachable."""
    if not shown or not isinstance(total, Estimate):
        return total
    return Estimate(max(total, offset + shown + (1 if shown == limit else 0)))


def _estimate(found: int, read: int, matches: int) -> int:
    """Scale `found` in `read` candidates to `matches`, to two significant figures."""
    if read >= matches:
        return found
    guess = found * matches / read
    digits = max(0, len(str(int(guess))) - 2)
    return Estimate(max(found, round(guess, -digits)))


def _about(guess: int) -> Estimate:
    digits = max(0, len(str(guess)) - 2)
    return Estimate(round(guess, -digits))


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


def _pg_query(terms: _Terms, *, every: bool, params: dict[str, Any], narrow: str = "") -> str:
    """A tsquery SQL expression; phrases go through phraseto_tsquery, which knows stopwords.
    `narrow` (a tsquery every filtered match satisfies) is required either way."""
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
    found = f" {'&&' if every else '||'} ".join(expressions)
    if not narrow:
        return found
    params["narrow"] = narrow
    return f"({found}) && to_tsquery('english', :narrow)"


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


def _narrowing_options(query: Query, speller: Speller) -> list[list[str]]:
    """Per filter word, indexed words one of which every document passing the LIKE filters
    has in its tags.

    A value occurring in a member, region, category or principle occurs in text_tags too, and
    each of its words lies inside some indexed word; so requiring, per word, one of the indexed
    words containing it never loses a match. Values with other characters are not narrowed.
    """
    found = []
    for name in ("member", "region", "category", "principle"):
        value = getattr(query, name)
        if not value:
            continue
        pattern = value.casefold() if name in ("member", "region") else fold(value).strip()
        if not _PLAIN.fullmatch(pattern):
            continue
        for word in pattern.split():
            if len(word) < 3 or word.isdigit():
                continue
            options = speller.containing(word)
            if options and len(options) <= MAX_EXPANSION:
                found.append(sorted(options))
    return found


def _tag_narrowing(query: Query, speller: Speller) -> list[str]:
    """FTS5 clauses on the tags column (see `_narrowing_options`)."""
    clauses = []
    for options in _narrowing_options(query, speller):
        quoted = " OR ".join(f'"{_safe(o)}"' for o in options)
        clauses.append(f"{{text_tags}} : ({quoted})")
    return clauses


def _pg_narrowing(query: Query, speller: Speller) -> str:
    """The same as a tsquery, anywhere in the document (weight B, the tags', would need
    every candidate's tsvector read, and the planner's estimates ignore weights). A word with
    an option PostgreSQL drops as a stopword is not narrowed: its documents would be lost."""
    groups = [
        f"({' | '.join(_safe(o) for o in options)})"
        for options in _narrowing_options(query, speller)
        if not _PG_STOPWORDS.intersection(options)
    ]
    return " & ".join(groups)


def _postings(terms: _Terms, narrowing: Sequence[str], speller: Speller) -> int:
    """About how many document-list entries BM25's IDF pass would read for this match: the
    vocabulary's document counts of every word, prefix expansion and narrowing option."""
    total = 0
    for word, fix, prefix in terms.words:
        total += speller.counts.get(fix or "", 0)
        total += speller.prefixed(word) if prefix else speller.counts.get(word, 0)
    total += sum(speller.counts.get(w, 0) for phrase in terms.phrases for w in phrase)
    for clause in narrowing:
        total += sum(speller.counts.get(o, 0) for o in re.findall(r'"(\w+)"', clause))
    return total


def _scoring(terms: _Terms, speller: Speller | None) -> list[tuple[tuple[str, ...], float]]:
    """Per word (or phrase): the substrings the cheap score looks for, and the word's weight
    (its rarity in the vocabulary's document counts, as BM25's IDF would weigh it)."""
    counts = speller.counts if speller is not None else {}
    most = speller.most if speller is not None else 1
    scoring = []
    for word, fix, _ in terms.words:
        options = tuple(dict.fromkeys(stem(w) for w in (word, fix) if w))
        docs = max(counts.get(word, 0), counts.get(fix or "", 0)) or most // 2
        scoring.append((options, math.log(1 + most / (docs + 0.5))))
    for phrase in terms.phrases:
        docs = min((counts.get(w, most) for w in phrase if w not in STOPWORDS), default=most)
        scoring.append(((" ".join(phrase),), math.log(1 + most / (docs + 0.5))))
    return scoring


async def warm_up(session: AsyncSession) -> None:
    """Load the speller now (at start-up), so that the first searches find it ready, or its
    corrector building in the background."""
    await speller_for(session, str(session.get_bind().engine.url))


async def corrections(session: AsyncSession, query: str) -> dict[str, str]:
    """The query's words that search would correct, each with its correction (for look-ups
    other than `search`, such as the supplier list, to be as tolerant of typos)."""
    wanted = words(query)
    if not wanted:
        return {}
    speller = await speller_for(session, str(session.get_bind().engine.url))
    return {word: fix for word in wanted if (fix := speller.correct(word))}


COLUMN_NAMES = ("kind", "ref_id", "title", "url", "member", "year_label", "summary", "categories")
COLUMNS = ", ".join(f"d.{name}" for name in COLUMN_NAMES)


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
    if parsed.empty or (not parsed.has_text and not parsed.has_filters):
        return SearchPage(hits=(), total=0, offset=offset, problems=parsed.problems)
    dialect = session.get_bind().dialect.name
    corrections: dict[str, str] = {}
    speller: Speller | None = None
    if parsed.words or (dialect == "sqlite" and parsed.has_filters):
        bind = session.get_bind()
        speller = await speller_for(session, str(bind.engine.url))
    exact: set[str] = set()
    if parsed.words and speller is not None:
        for word in parsed.words:
            fix = speller.correct(word)
            if fix:
                corrections[word] = fix
        # A complete word matches its stem; only an unfinished one (`sustain`) is a prefix.
        exact = {w for w in parsed.words if speller.has(w)}
    terms = _Terms(
        tuple((w, corrections.get(w), w not in exact) for w in parsed.words), parsed.phrases
    )
    where, params = _filters(parsed, kinds)
    narrowing = _tag_narrowing(parsed, speller) if dialect == "sqlite" and speller else []
    pg_narrowing = _pg_narrowing(parsed, speller) if dialect != "sqlite" and speller else ""
    params.update(limit=limit, offset=offset)

    several = len(parsed.words) + len(parsed.phrases) > 1
    relaxed_count: list[_Counted] = []  # the matches of some word, counted with every word's

    def fts5_match(every: bool) -> str:
        match = _fts5_match(terms, every=every)
        return f"({match}) AND " + " AND ".join(narrowing) if narrowing else match

    async def run(every: bool) -> tuple[list[Any], int]:
        if dialect == "sqlite" and parsed.has_text:
            match = fts5_match(every)
            counted: _Counted | None
            if every and several:
                # One trip counts both: the matches of every word, and only if there are
                # none, those of some word (what a relaxed search would count next).
                counted, spare = await _count(session, match, fts5_match(every=False))
                relaxed_count.extend([spare] if spare is not None else [])
            else:
                counted = relaxed_count[0] if relaxed_count else None
            # BM25 reads each word's whole document list for its IDF; past a budget (large
            # corpora only: the network's data is far below it) the cheap score ranks.
            bm25 = speller is None or _postings(terms, narrowing, speller) <= BM25_BUDGET
            return await _sqlite_text(
                session,
                match,
                where,
                params,
                offset,
                limit,
                lambda: _scoring(terms, speller),
                bm25=bm25,
                counted=counted,
            )
        if not parsed.has_text:
            conditions = list(where)
            if narrowing:
                conditions.append(
                    "d.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH :tags)"
                )
                params["tags"] = " AND ".join(narrowing)
            condition = f"WHERE {' AND '.join(conditions)}" if conditions else ""
            # Count and page separately: a window count would carry every row through the sort.
            total = await session.scalar(
                _sql(f"SELECT count(*) FROM search_docs d {condition}", "n"), params
            )
            # Newest first, then by title: read in year order from ix_search_docs_kind_year,
            # which also holds the titles to sort a year's rows by. (SQLite already sorts
            # NULLs last in a descending order, and plans the index only without the clause.)
            # The page's ids are chosen first, so only they carry their columns through a sort.
            order = f"d.year_from DESC{'' if dialect == 'sqlite' else ' NULLS LAST'}, d.title, d.id"
            chosen = (
                f"SELECT d.id FROM search_docs d {condition} ORDER BY {order} "
                "LIMIT :limit OFFSET :offset"
            )
            if dialect != "sqlite":
                chosen = _pg_newest_first(conditions)
                params["upto"] = offset + limit
            sql = (
                f"SELECT {COLUMNS}, 0.0 AS score FROM search_docs d WHERE d.id IN ({chosen}) "
                f"ORDER BY {order}"
            )
            page = _sql(sql, *COLUMN_NAMES, "score")
            return list((await session.execute(page, params)).all()), int(total or 0)
        query_sql = _pg_query(terms, every=every, params=params, narrow=pg_narrowing)
        return await _postgres_text(session, query_sql, where, params, offset, limit)

    rows, total = await run(every=True)
    relaxed = False
    if total == 0 and several:
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


_WALK = "SELECT rowid AS id FROM search_fts WHERE search_fts MATCH :match ORDER BY rowid DESC"
_FALLBACK_WALK = _WALK.replace(":match", ":fallback")


@dataclass(frozen=True)
class _Counted:
    """The newest COUNT_CAP matches of an FTS5 match: how many, their rowids' range, and the
    index's first rowid (to scale a capped count to the whole index)."""

    n: int
    low: int
    high: int
    first: int | None


async def _count(
    session: AsyncSession, match: str, fallback: str | None = None
) -> tuple[_Counted, _Counted | None]:
    """Count `match`'s matches; with a `fallback` match, in the same statement, also that
    one's, only if `match` has none (SQLite evaluates a CASE branch only when taken)."""
    spare = ""
    if fallback is not None:
        spare = (
            ", CASE WHEN count(*) = 0 THEN (SELECT printf('%d %d %d', count(*), min(id), "
            f"max(id)) FROM ({_FALLBACK_WALK} LIMIT :cap)) END AS spare"
        )
    row = (
        await session.execute(
            _sql(
                "SELECT count(*) AS n, min(id) AS low, max(id) AS high, "
                f"(SELECT min(id) FROM search_docs) AS first{spare} FROM ({_WALK} LIMIT :cap)",
                *("n", "low", "high", "first", *(["spare"] if fallback is not None else [])),
            ),
            {"match": match, "fallback": fallback, "cap": COUNT_CAP},
        )
    ).one()
    counted = _Counted(int(row.n), int(row.low or 0), int(row.high or 0), row.first)
    if fallback is None or row.spare is None:
        return counted, None
    n, low, high = (int(part) for part in row.spare.split())
    return counted, _Counted(n, low, high, row.first)


@lru_cache(maxsize=512)
def _sql(statement: str, *names: str) -> TextualSelect:
    """A statement as text whose result has these columns, kept: a search's statements
    recur, and parsing one is not free; with its columns named, SQLAlchemy reads the
    result's description once per statement rather than at every execution."""
    return text(statement).columns(*(result_column(name) for name in names))


async def _sqlite_text(
    session: AsyncSession,
    match: str,
    where: list[str],
    params: dict[str, Any],
    offset: int,
    limit: int,
    scoring: Callable[[], Sequence[tuple[tuple[str, ...], float]]] = tuple,
    *,
    bm25: bool = True,
    counted: _Counted | None = None,
) -> tuple[list[Any], int]:
    """One page of FTS5 matches for `match` and the total (see the module doc); `scoring`
    gives the cheap score's words when it ranks, and `counted` the matches if already counted."""
    params = {**params, "match": match}
    if counted is None:
        counted, _ = await _count(session, match)
    matches = counted.n
    if matches == 0:
        return [], 0
    checks = " AND ".join(where)
    if matches <= RANK_ALL:  # rank every match; filters see at most RANK_ALL rows
        params = {**params}
        score = f"-bm25(search_fts, {SQLITE_WEIGHTS})" if bm25 else _score_sql(scoring(), params)
        inner = "m.score" if bm25 else score
        ranked = _sql(
            f"SELECT d.id, {COLUMNS}, {inner} AS score, count(*) OVER () AS total FROM "
            f"(SELECT rowid AS id{', ' + score + ' AS score' if bm25 else ''} "
            "FROM search_fts WHERE search_fts MATCH :match) m "
            f"JOIN search_docs d ON d.id = m.id {'WHERE ' + checks if where else ''} "
            f"ORDER BY score DESC, {'m.id' if bm25 else 'd.id DESC'} LIMIT :limit OFFSET :offset",
            *("id", *COLUMN_NAMES, "score", "total"),
        )
        ranked_rows = list((await session.execute(ranked, params)).all())
        if ranked_rows or not where:
            return ranked_rows, int(ranked_rows[0].total) if ranked_rows else matches
        counting = f"SELECT count(*) FROM ({_WALK}) m JOIN search_docs d ON d.id = m.id"
        counted_sql = _sql(f"{counting} WHERE {checks}", "n")
        return [], int(await session.scalar(counted_sql, params) or 0)

    def scaled(found: int, low: int, high: int) -> int:
        """`found` matches in rowids low..high (the newest), scaled to the whole index."""
        return _estimate(found, high - low + 1, high - int(counted.first or 0) + 1)

    if not where:
        total = matches if matches < COUNT_CAP else scaled(matches, counted.low, counted.high)
    else:  # filters: check the newest FILTER_CAP matches and scale what passes
        sample = (
            await session.execute(
                _sql(
                    "SELECT count(*) AS walked, "
                    f"coalesce(sum(CASE WHEN {checks} THEN 1 ELSE 0 END), 0) AS passed, "
                    f"min(m.id) AS low, max(m.id) AS high FROM ({_WALK} LIMIT :cap) m "
                    "JOIN search_docs d ON d.id = m.id",
                    *("walked", "passed", "low", "high"),
                ),
                {**params, "cap": FILTER_CAP},
            )
        ).one()
        if sample.walked < FILTER_CAP:
            total = int(sample.passed)
        else:
            total = scaled(int(sample.passed), sample.low, sample.high)
    # Windows of WINDOW matches (after filters), newest first; a page is ranked within its
    # window by the cheap score, and spills into the next window when it crosses the edge.
    score = _score_sql(scoring(), params)
    # (The subquery's own `d` shadows the outer one, so the filters read the candidate's row.)
    candidates = f"SELECT m.id FROM ({_WALK}) m" + (
        f" JOIN search_docs d ON d.id = m.id WHERE {checks}" if where else ""
    )
    page_sql = _sql(
        f"SELECT d.id, {COLUMNS}, {score} AS score FROM search_docs d WHERE d.id IN "
        f"({candidates} ORDER BY m.id DESC LIMIT :window OFFSET :start) "
        "ORDER BY score DESC, d.id DESC LIMIT :take OFFSET :skip",
        *("id", *COLUMN_NAMES, "score"),
    )
    # Filtered windows are smaller: each candidate costs a row look-up to check.
    window = FILTERED_WINDOW if where else WINDOW
    return await _windows(session, page_sql, params, offset, limit, window, total)


def _pg_newest_first(conditions: list[str]) -> str:
    """The page's ids, newest first, then by title (PostgreSQL). An index holds years in one
    direction and titles in one: read backwards, the years come newest first, each year's
    rows are sorted by title as they come (an incremental sort), and reading stops at the
    page. That needs the years without NULLs, whose rows come after, so they are read apart.
    """
    known = " AND ".join([*conditions, "d.year_from IS NOT NULL"])
    unknown = " AND ".join([*conditions, "d.year_from IS NULL"])
    return (
        "SELECT p.id FROM ("
        f"(SELECT d.id, d.year_from, d.title FROM search_docs d WHERE {known} "
        "ORDER BY d.year_from DESC, d.title, d.id LIMIT :upto) UNION ALL "
        f"(SELECT d.id, d.year_from, d.title FROM search_docs d WHERE {unknown} "
        "ORDER BY d.title, d.id LIMIT :upto)"
        ") p ORDER BY p.year_from DESC NULLS LAST, p.title, p.id LIMIT :limit OFFSET :offset"
    )


async def _postgres_text(
    session: AsyncSession,
    query_sql: str,
    where: list[str],
    params: dict[str, Any],
    offset: int,
    limit: int,
) -> tuple[list[Any], int]:
    """One page of PostgreSQL matches and the total, after `_sqlite_text`'s plan: ts_rank_cd
    ranks every match up to RANK_ALL, else a window of the newest matches at a time. When the
    planner expects few matches (from the tsvector statistics) they are all read and counted;
    else the newest PG_SAMPLE are, and the total is scaled from them (`about`). Each step
    reads candidate ids first, and only those rows are ranked.
    """
    # A search is small: parallel workers would cost more to start than they save.
    await session.execute(_sql("SET LOCAL max_parallel_workers_per_gather = 0"))
    match = f"f.tsv @@ ({query_sql})"
    checks = " AND ".join(where)
    # The matches passing the filters (these need the document's row).
    matching = f"search_fts f JOIN search_docs d ON d.id = f.id WHERE {match} AND {checks}"
    if not where:
        matching = f"search_fts f WHERE {match}"
    explain = _sql(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM search_fts f WHERE {match}", "plan")
    plan = (await session.execute(explain, params)).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    expected = int(plan[0]["Plan"]["Plan Rows"])
    known: list[int] = []  # the newest matches passing the filters, newest first
    if expected <= PG_COUNTED:  # few: read them all (filters too), up to a cap
        # OFFSET 0 plans the matches for all of them (a bitmap scan of the GIN index), not
        # for the first few of a walk newest first through the whole table.
        cap = PG_COUNTED * 2
        every = _sql(
            f"SELECT m.id FROM (SELECT f.id FROM {matching} OFFSET 0) m "
            "ORDER BY m.id DESC LIMIT :cap",
            "id",
        )
        known = [int(i) for i in (await session.execute(every, {**params, "cap": cap})).scalars()]
        walked, oldest = len(known), known[-1] if known else 0
    else:  # many: the newest PG_SAMPLE matches, and which of them pass the filters
        cap = PG_SAMPLE
        passes = f"CASE WHEN {checks} THEN 1 ELSE 0 END" if where else "1"
        sample = _sql(
            f"SELECT m.id, {passes} AS passes FROM (SELECT f.id FROM search_fts f "
            f"WHERE {match} ORDER BY f.id DESC LIMIT :cap) m"
            + (" JOIN search_docs d ON d.id = m.id" if where else "")
            + " ORDER BY m.id DESC",
            "id", "passes",
        )  # fmt: skip
        sampled = list((await session.execute(sample, {**params, "cap": cap})).all())
        known = [int(r.id) for r in sampled if r.passes]
        walked, oldest = len(sampled), int(sampled[-1].id) if sampled else 0
    complete = walked < cap  # `known` holds every match passing the filters
    total: int = len(known)
    if not complete:
        # As many per id as among the newest matches read (SQLite scales its count so too):
        # the planner's estimate assumes words independent, which `participatory` and
        # `budgeting` are not.
        first, last = (await session.execute(_sql(_PG_IDS, "first", "last"))).one()
        total = _estimate(len(known), int(last) - oldest + 1, int(last) - int(first) + 1)
        if where and len(known) < offset + limit:
            # Too few of the sample passed the filters to scale from (none: "about 5", and
            # no next page): count the passing matches instead, up to a cap.
            counted = _sql(
                f"SELECT count(*) AS n FROM (SELECT 1 FROM {matching} LIMIT :cap) c", "n"
            )
            exact = int(
                (await session.execute(counted, {**params, "cap": PG_COUNTED})).scalar_one()
            )
            total = exact if exact < PG_COUNTED else Estimate(max(total, exact))
    if total == 0 and complete:
        return [], 0
    if complete and total <= RANK_ALL:  # rank them all
        return await _pg_ranked(session, query_sql, params, known, offset, limit, "d.title"), total
    fetch = _sql(
        f"SELECT f.id FROM {matching} ORDER BY f.id DESC LIMIT :window OFFSET :start", "id"
    )
    window = PG_FILTERED_WINDOW if where else PG_WINDOW
    start = offset // window * window
    skip = offset - start
    rows: list[Any] = []
    while len(rows) < limit:
        ids = known[start : start + window]
        if len(ids) < window and not complete:  # past what was read: read this window
            found = await session.execute(fetch, {**params, "window": window, "start": start})
            ids = [int(i) for i in found.scalars()]
        take = limit - len(rows)
        got = []
        if ids:
            got = await _pg_ranked(session, query_sql, params, ids, skip, take, "d.id DESC")
        rows += got
        if len(got) == take or len(ids) < window:
            break  # the page is full, or this window was the last
        start, skip = start + window, 0
    return rows, _at_least_shown(total, offset, len(rows), limit)


_PG_IDS = "SELECT min(id) AS first, max(id) AS last FROM search_fts"


async def _pg_ranked(
    session: AsyncSession,
    query_sql: str,
    params: dict[str, Any],
    ids: list[int],
    offset: int,
    limit: int,
    ties: str,
) -> list[Any]:
    """These documents ranked by ts_rank_cd: the page from `offset`."""
    ranked = _sql(
        f"SELECT {COLUMNS}, ts_rank_cd(f.tsv, ({query_sql}), 1) AS score FROM search_fts f "
        f"JOIN search_docs d ON d.id = f.id WHERE f.id = ANY(:ids) "
        f"ORDER BY score DESC, {ties} LIMIT :limit OFFSET :offset",
        *COLUMN_NAMES, "score",
    )  # fmt: skip
    found = await session.execute(ranked, {**params, "ids": ids, "limit": limit, "offset": offset})
    return list(found.all())


async def _windows(
    session: AsyncSession,
    page_sql: TextualSelect,
    params: dict[str, Any],
    offset: int,
    limit: int,
    window: int,
    total: int,
) -> tuple[list[Any], int]:
    """A page from windows of `window` matches, newest first, each ranked within itself; a
    page that crosses a window's edge spills into the next."""
    start = offset // window * window
    skip = offset - start
    rows: list[Any] = []
    while len(rows) < limit:
        take = limit - len(rows)
        got = list(
            (
                await session.execute(
                    page_sql,
                    {**params, "window": window, "start": start, "take": take, "skip": skip},
                )
            ).all()
        )
        rows += got
        if len(got) == take or skip + len(got) < window:
            break  # the page is full, or this window was the last
        start, skip = start + window, 0
    return rows, _at_least_shown(total, offset, len(rows), limit)


def _score_sql(scoring: Sequence[tuple[tuple[str, ...], float]], params: dict[str, Any]) -> str:
    """A cheap score for large match sets: each word found in the title (10) or tags (4),
    weighted by its rarity. Substrings of the folded text; no pass over any document list."""
    parts = []
    for i, (options, weight) in enumerate(scoring):
        found = {}
        for column in ("text_title", "text_tags"):
            tests = []
            for j, option in enumerate(options):
                params[f"s{i}_{j}"] = option
                tests.append(f"instr(d.{column}, :s{i}_{j}) > 0")
            found[column] = " OR ".join(tests)
        params[f"w{i}"] = weight
        parts.append(f":w{i} * (10 * ({found['text_title']}) + 4 * ({found['text_tags']}))")
    return " + ".join(parts) if parts else "0.0"


def _json_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):  # SQLite returns JSON columns as text through raw SQL
        loaded = json.loads(value or "[]")
        return [str(v) for v in loaded] if isinstance(loaded, list) else []
    return []
