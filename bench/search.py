"""Search benchmark: engine latency against a naive LIKE scan, and relevance on the real data.

    .venv/bin/python -m bench.search [--sizes 600,10000,100000] [--queries N] [--no-postgres]

1. Latency. Deterministic synthetic corpora of case studies (600, 10,000 and 100,000 by
   default) are loaded in bulk into a fresh database per size and backend (a temp SQLite file;
   a throwaway `ccin_bench_*` PostgreSQL database, dropped afterwards) and indexed with
   `store.search_index.rebuild`. A fixed set of queries goes through `store.search.search`
   (limit 5, one session per query, as the bot does): one warm-up pass, then timed rounds. The
   same queries then run as a naive `LIKE '%word%'` scan of title/summary/body (words ANDed,
   scored, counted, LIMIT 5; see `like_statement`). Reported: p50/p95 ms, the speed-up, the
   index build time, the database size and the worker's peak RSS.
2. Relevance. `bench/relevance.yaml` (judged queries, each with a misspelled variant) runs
   against a freshly seeded database with the network's real reference data; recall@5 and
   MRR@5 for the clean and the misspelled sets.

Each measurement runs in its own child process (so peak RSS belongs to one build and caches
start cold) under one overall time budget; the run stops by itself. The Markdown report is
printed and written to `bench/results.md`. Missed targets are stated plainly.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import pickle
import platform
import random
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RELEVANCE_FILE = BENCH_DIR / "relevance.yaml"
RESULTS_FILE = BENCH_DIR / "results.md"
SEED_DIR = REPO / "store" / "seed_data"
PG_ADMIN_URL = os.environ.get(
    "CCIN_BENCH_POSTGRES_URL",
    os.environ.get("CCIN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)

DEFAULT_SIZES = (600, 10_000, 100_000)
LOAD_BATCH = 5_000
LIMIT = 5
SEARCH_KINDS = ("case_study", "project", "publication", "resource", "supplier", "member")

# Targets (from the briefs). Latency and speed-up are judged at TARGET_SIZE, per backend:
# (p95 ms at most, p50 speed-up over LIKE at least). SQLite's p95 is its figure before the
# PostgreSQL work (10.9 ms, 2026-11-22): it must not get slower.
TARGET_RECALL_CLEAN = 0.9
TARGET_RECALL_TYPO = 0.8
TARGETS: dict[str, tuple[float, float]] = {"sqlite": (10.9, 50.0), "postgresql": (50.0, 20.0)}
TARGET_SIZE = 100_000

# The latency query set: what people type, including typos, prefixes, phrases and filters.
QUERIES: tuple[str, ...] = (
    "housing",
    "energy",
    "cooperative",
    "dementia",
    "procurement",
    "allotments",
    "loneliness",
    "community energy",
    "social value",
    "fuel poverty",
    "participatory budgeting",
    "youth employment skills",
    "community land trust",
    "credit union savings",
    '"community wealth building"',
    '"cost of living" support',
    "hous",
    "regen",
    "retro",
    "co-op",
    "houseing",
    "cooperatve",
    "sustainible food",
    "partcipatory budgeting",
    "lonelyness older people",
    "kind:case-study year:2020..2023",
    "category:housing energy",
    "principle:co-production residents",
    "member:oldham food",
    "year:2024 social value",
    "quantum blockchain",
)


# --- the judged relevance set -------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    kind: str
    title: str


@dataclass(frozen=True)
class Judged:
    id: str
    query: str
    typo: str
    expect: tuple[Expected, ...]


class RelevanceSetError(ValueError):
    """bench/relevance.yaml does not follow its schema."""


_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ENTRY_KEYS = {"id", "query", "typo", "expect"}


def load_relevance_set(path: Path = RELEVANCE_FILE) -> list[Judged]:
    """Read and validate the judged set; raises RelevanceSetError naming the bad entry."""
    from ccin_bridge.store.spelling import distance
    from ccin_bridge.store.text import fold

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("queries"), list):
        raise RelevanceSetError(f"{path.name}: expected a mapping with a `queries` list")
    judged: list[Judged] = []
    seen: set[str] = set()
    for index, raw in enumerate(data["queries"]):
        where = f"{path.name}: queries[{index}]"
        if not isinstance(raw, dict) or set(raw) != _ENTRY_KEYS:
            raise RelevanceSetError(f"{where}: needs exactly the keys {sorted(_ENTRY_KEYS)}")
        entry_id, query, typo, expect = raw["id"], raw["query"], raw["typo"], raw["expect"]
        if not isinstance(entry_id, str) or not _ID.match(entry_id) or entry_id in seen:
            raise RelevanceSetError(f"{where}: id must be a unique lower-case-slug")
        seen.add(entry_id)
        where = f"{path.name}: {entry_id}"
        if not isinstance(query, str) or not query.strip():
            raise RelevanceSetError(f"{where}: query must be a non-empty string")
        if not isinstance(typo, str) or not typo.strip():
            raise RelevanceSetError(f"{where}: typo must be a non-empty string")
        edits = distance(fold(query), fold(typo))
        if not 1 <= edits <= 2:
            raise RelevanceSetError(
                f"{where}: typo must be one or two edits from the query (it is {edits})"
            )
        if not isinstance(expect, list) or not expect:
            raise RelevanceSetError(f"{where}: expect must be a non-empty list")
        items: list[Expected] = []
        for item in expect:
            if (
                not isinstance(item, dict)
                or set(item) != {"kind", "title"}
                or item["kind"] not in SEARCH_KINDS
                or not isinstance(item["title"], str)
                or not item["title"].strip()
            ):
                raise RelevanceSetError(
                    f"{where}: each expected item is {{kind: one of {SEARCH_KINDS}, title: text}}"
                )
            items.append(Expected(kind=item["kind"], title=item["title"]))
        if len(set(items)) != len(items):
            raise RelevanceSetError(f"{where}: an expected item is listed twice")
        judged.append(Judged(id=entry_id, query=query, typo=typo, expect=tuple(items)))
    if not judged:
        raise RelevanceSetError(f"{path.name}: no queries")
    return judged


def reciprocal_rank(hits: Sequence[tuple[str, str]], expect: Sequence[Expected]) -> float:
    wanted = {(e.kind, e.title) for e in expect}
    for rank, hit in enumerate(hits[:LIMIT], 1):
        if tuple(hit) in wanted:
            return 1.0 / rank
    return 0.0


def recall(hits: Sequence[tuple[str, str]], expect: Sequence[Expected]) -> float:
    found = {tuple(h) for h in hits[:LIMIT]}
    return sum((e.kind, e.title) in found for e in expect) / len(expect)


# --- the synthetic corpus -------------------------------------------------------------------------

# Topic clusters: the categories a case study on the topic is filed under, and its phrases.
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "housing": (
        ("Housing", "Poverty", "Community"),
        (
            "housing", "council homes", "tenants", "social housing", "retrofit", "homelessness",
            "rent arrears", "private landlords", "estate regeneration", "community land trust",
            "co-operative housing", "damp and mould", "temporary accommodation",
            "housing association", "tenant management", "self-build homes", "affordable homes",
            "empty homes", "housing co-operatives", "community-led housing",
        ),
    ),
    "climate": (
        ("Climate Change and Environment", "Cooperative Placemaking"),
        (
            "community energy", "solar panels", "insulation", "heat pumps", "fuel poverty",
            "net zero", "carbon emissions", "climate emergency", "tree planting", "biodiversity",
            "flood resilience", "active travel", "recycling", "circular economy", "repair cafes",
            "energy co-operative", "retrofit", "green spaces", "electric bikes", "energy",
        ),
    ),
    "food": (
        ("Poverty", "Community", "Health & Social Care"),
        (
            "food", "food banks", "food pantries", "allotments", "community gardens",
            "school meals", "holiday hunger", "food poverty", "surplus food", "local produce",
            "sustainable food", "community fridges", "cooking skills", "food growing",
        ),
    ),
    "care": (
        ("Health & Social Care", "Social Outcomes"),
        (
            "adult social care", "carers", "homecare", "dementia", "loneliness", "isolation",
            "wellbeing", "mental health", "social prescribing", "older people", "disability",
            "hospital discharge", "public health", "care co-operatives", "day services",
            "dementia-friendly communities", "care workers",
        ),
    ),
    "economy": (
        ("Community Wealth Building", "Jobs", "Finance"),
        (
            "procurement", "social value", "anchor institutions", "local spend", "credit union",
            "community bank", "co-operative development", "worker co-operatives",
            "social enterprise", "business support", "high street", "start-ups", "living wage",
            "community wealth building", "inclusive economy", "local supply chains",
            "employee ownership",
        ),
    ),
    "youth": (
        ("Young People", "Education & Training", "Jobs"),
        (
            "young people", "youth clubs", "schools", "apprenticeships", "skills", "training",
            "mentoring", "care leavers", "youth employment", "college", "youth council",
            "holiday activities", "youth workers", "careers advice",
        ),
    ),
    "democracy": (
        ("Governance", "Strategy", "Social Outcomes"),
        (
            "participatory budgeting", "citizens' assembly", "co-production", "resident panels",
            "community engagement", "neighbourhood forums", "ward councillors", "consultation",
            "decision-making", "devolved budgets", "community conversations", "deliberation",
        ),
    ),
    "community": (
        ("Community", "Cooperative Placemaking"),
        (
            "community centre", "libraries", "volunteers", "mutual aid", "community hubs",
            "community asset transfer", "parks", "leisure centres", "culture", "the arts",
            "festivals", "heritage", "village halls", "community anchors", "neighbourhoods",
        ),
    ),
    "money": (
        ("Poverty", "Finance", "Social Outcomes"),
        (
            "cost of living", "debt advice", "welfare rights", "benefits", "financial inclusion",
            "credit union savings", "warm spaces", "crisis support", "digital inclusion",
            "digital skills", "data-led services", "household support",
        ),
    ),
}  # fmt: skip

PEOPLE = (
    "tenants", "residents", "young people", "older residents", "carers", "volunteers",
    "local businesses", "community groups", "families", "social enterprises", "schools",
    "local charities", "faith groups", "the voluntary sector", "ward councillors",
    "officers", "disabled residents", "refugees",
)  # fmt: skip
PARTNERS = (
    "the local credit union", "a local charity", "the NHS trust", "the university",
    "voluntary sector partners", "local co-operatives", "the combined authority",
    "a community interest company", "the police", "the chamber of commerce", "Co-operatives UK",
)  # fmt: skip
FUNDERS = (
    "the National Lottery Community Fund", "the UK Shared Prosperity Fund",
    "the council's community fund", "a CCIN Policy Lab grant", "public health budgets",
    "a charitable trust", "section 106 money",
)  # fmt: skip
VERBS = (
    "launched", "piloted", "co-designed", "co-produced", "delivered", "commissioned",
    "supported", "funded", "set up", "expanded", "developed", "tested", "scaled up", "mapped",
)  # fmt: skip
VERBS_ING = (
    "extending", "rolling out", "evaluating", "embedding", "sharing", "growing", "reviewing",
)  # fmt: skip
ADJECTIVES = (
    "local", "community-led", "resident-led", "co-operative", "inclusive", "sustainable",
    "affordable", "innovative", "place-based", "preventative", "neighbourhood", "shared",
    "democratic", "green", "fair", "accessible", "joined-up", "asset-based",
)  # fmt: skip
PROGRAMMES = (
    "programme", "pilot", "scheme", "project", "partnership", "network", "service",
    "commission", "fund", "hub", "strategy", "charter", "toolkit",
)  # fmt: skip
REGIONS = (
    "North West", "North East", "Yorkshire and the Humber", "East Midlands", "West Midlands",
    "East of England", "London", "South East", "South West", "Scotland", "Wales",
)  # fmt: skip
# Ward and estate names: a long tail of rare words, so the vocabulary grows with the corpus.
_SYLLABLE_1 = (
    "ash", "brook", "kings", "holme", "mill", "wood", "stone", "bran", "cal", "der", "els",
    "fern", "glen", "hart", "ivy", "lang", "mor", "nor", "oak", "pen", "red", "sal", "thorn",
    "up", "wal", "whit", "york", "bar", "bell", "clay",
)  # fmt: skip
_SYLLABLE_2 = ("", "", "", "ber", "ing", "en", "ley", "ton", "ham")
_SYLLABLE_3 = (
    "field", "bury", "ford", "ley", "ton", "wick", "mere", "dale", "worth", "stead", "gate",
    "side", "well", "brook", "hill", "cross", "moor", "thorpe", "by", "holme",
)  # fmt: skip
_PLACE_SUFFIX = re.compile(
    r"\s*(?:\(.*\)|Metropolitan Borough Council|City Council|Borough Council|District Council|"
    r"County Council|Town Council|Council|Combined Authority|Labour.*|Green Group|Coop.*|"
    r"Co-op.*)$"
)
_ROYAL = re.compile(r"^Royal Borough of ")
_CHOICES: dict[str, tuple[str, ...]] = {
    "verb": VERBS, "verb_ing": VERBS_ING, "adj": ADJECTIVES, "programme": PROGRAMMES,
    "partner": PARTNERS, "funder": FUNDERS,
    "helped": ("households", "families", "residents", "people", "tenants", "small businesses"),
}  # fmt: skip
_NUMBERS = {"n": (12, 900), "n2": (5, 400), "year": (2012, 2025), "money": (10, 950)}

TITLES = (
    "{Adj} {topic} in {place}",
    "{Topic}: {verb_ing} the work with {people} in {ward}",
    "{place}'s {topic} {programme}",
    "Co-producing {topic} with {people}",
    "{ward} {topic} {programme}",
    "How {place} {verb} {topic}",
    "{Topic} and {topic2}: a {adj} approach",
    "{Adj} {topic} for {people} in {ward}",
)
SENTENCES = (
    "{member} {verb} a {adj} {topic} {programme} in {ward}.",
    "The {programme} brought together {people}, {people2} and {partner} to tackle {topic2}.",
    "Over {n} {people} took part, and {n2} {helped} were supported with {topic} in the first year.",
    "Residents in {ward} told the council that {topic} and {topic2} mattered most to them.",
    "Working with {partner}, the council {verb} {topic} through a {adj} {programme}.",
    "An evaluation in {year} found better outcomes for {people}, with savings of £{money}k.",
    "The approach puts the principle of {principle} into practice.",
    "Officers and ward councillors used {topic} to build trust with {people} in {place}.",
    "Next steps include {verb_ing} the {programme} to other neighbourhoods across {place}.",
    "Funding from {funder} helped the partners to develop {topic2} and {topic3}.",
    "{People} were involved from the start in designing {topic}.",
    "Lessons learned: start small, share power with {people} and keep {topic} at the heart of "
    "the work.",
    "The {adj} model links {topic} with {topic2}, so that {people} get help earlier.",
    "Since {year}, {n} {people} have been trained to run {topic} sessions in {ward}.",
)


@dataclass(frozen=True)
class _Pools:
    members: tuple[tuple[str, str], ...]  # (organisation name, place)
    categories: tuple[str, ...]
    principles: tuple[str, ...]


def _pools() -> _Pools:
    orgs = yaml.safe_load((SEED_DIR / "organisations.yaml").read_text(encoding="utf-8"))
    members = []
    for org in orgs["organisations"]:
        if org["type"] in ("full", "associate", "affiliate"):
            name = str(org["name"])
            place = _PLACE_SUFFIX.sub("", _ROYAL.sub("", name)).strip() or name
            members.append((name, place))
    categories = yaml.safe_load((SEED_DIR / "categories.yaml").read_text(encoding="utf-8"))
    principles = yaml.safe_load((SEED_DIR / "principles.yaml").read_text(encoding="utf-8"))
    return _Pools(
        members=tuple(members),
        categories=tuple(str(c["name"]) for c in categories["categories"]),
        principles=tuple(str(p["name"]) for p in principles["principles"]),
    )


class _Slots(dict[str, str]):
    """Template values, drawn only when a template asks for them (the generator's hot path)."""

    def __init__(self, gen: CorpusGenerator, topic: str, member: str, place: str) -> None:
        super().__init__(member=member, place=place)
        self.gen, self.topic = gen, topic
        self.people: list[str] = []

    def __missing__(self, key: str) -> str:
        if key[:1].isupper():
            value = self[key.lower()]
            return value[:1].upper() + value[1:]
        g, r = self.gen, self.gen.rng
        if key.startswith("topic"):
            value = g._phrase(self.topic)
            if key != "topic" and value == self.get("topic"):  # "X and X" reads oddly
                value = g._phrase(self.topic)
        elif key.startswith("people"):
            if not self.people:
                self.people = r.sample(PEOPLE, 2)
            value = self.people[0 if key == "people" else 1]
        elif key == "ward":
            value = g._ward()
        elif key == "principle":
            value = r.choice(g.pools.principles).lower()
        elif key in _CHOICES:
            value = r.choice(_CHOICES[key])
        else:
            low, high = _NUMBERS[key]
            value = str(r.randint(low, high))
        self[key] = value
        return value


class CorpusGenerator:
    """Deterministic synthetic case studies (same seed and size -> same rows)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.pools = _pools()
        self.topics = tuple(TOPICS)
        # Zipf-like weights: the first phrases of each topic are the most common.
        self.weights = {
            t: list(itertools.accumulate(1.0 / (i + 1) for i in range(len(TOPICS[t][1]))))
            for t in TOPICS
        }
        self.created = datetime(2026, 1, 1, tzinfo=UTC)

    def _phrase(self, topic: str) -> str:
        if self.rng.random() < 0.2:  # now and then, a word from another topic
            topic = self.rng.choice(self.topics)
        return self.rng.choices(TOPICS[topic][1], cum_weights=self.weights[topic])[0]

    def _ward(self) -> str:
        r = self.rng
        name = r.choice(_SYLLABLE_1) + r.choice(_SYLLABLE_2) + r.choice(_SYLLABLE_3)
        return name.capitalize() + r.choice(("", "", " ward", " estate", " village"))

    def _fill(self, template: str, topic: str, member: str, place: str) -> str:
        text = template.format_map(_Slots(self, topic, member, place))
        return text[:1].upper() + text[1:]

    def case_study(self, number: int) -> dict[str, Any]:
        r = self.rng
        topic = r.choice(self.topics)
        member, place = r.choice(self.pools.members)
        title = self._fill(r.choice(TITLES), topic, member, place)
        summary = " ".join(self._fill(s, topic, member, place) for s in r.sample(SENTENCES, 2))
        target = r.randint(80, 200)
        sentences: list[str] = []
        count = 0
        while count < target:
            sentence = self._fill(r.choice(SENTENCES), topic, member, place)
            sentences.append(sentence)
            count += len(sentence.split())
        own = list(TOPICS[topic][0])
        categories = r.sample(own, r.randint(1, min(2, len(own))))
        if r.random() < 0.3:
            extra = r.choice(self.pools.categories)
            if extra not in categories:
                categories.append(extra)
        year = r.randint(2012, 2025)
        return {
            "title": title[:300],
            "url": f"https://bench.invalid/case-studies/{number}",
            "member": member,
            "region": r.choice(REGIONS),
            "year": str(year) if r.random() < 0.8 else f"{year}/{(year + 1) % 100:02d}",
            "categories": categories,
            "principles": r.sample(self.pools.principles, r.randint(1, 3)),
            "summary": summary,
            "body": " ".join(sentences),
            "source": "bench",
            "created_at": self.created,
        }

    def batches(self, size: int, batch: int = LOAD_BATCH) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, size, batch):
            yield [self.case_study(n) for n in range(start, min(size, start + batch))]


def corpus(size: int, cache: Path | None = None) -> Iterator[list[dict[str, Any]]]:
    """The corpus for a size in batches; generated once per run and replayed from `cache`."""
    if cache is not None and cache.exists():
        with cache.open("rb") as stream:
            while True:
                try:
                    yield pickle.load(stream)
                except EOFError:
                    return
    generator = CorpusGenerator(seed=20_251_122 + size)
    if cache is None:
        yield from generator.batches(size)
        return
    partial = cache.with_suffix(".partial")
    with partial.open("wb") as stream:
        for rows in generator.batches(size):
            pickle.dump(rows, stream, protocol=pickle.HIGHEST_PROTOCOL)
            yield rows
    partial.rename(cache)


# --- measurement ----------------------------------------------------------------------------------


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def like_statement(query: str) -> tuple[str, dict[str, Any]] | None:
    """The naive search for a query: what a search box without a full-text index would do.

    Every word (and phrase word) must occur as `lower(column) LIKE '%word%'` in the title,
    summary or body (ANDed over words); the same filters apply. Like the engine, it returns a
    ranked first page and the total: the score counts the words found in the title (3 each)
    and in the summary (1 each), ties newest first, and `count(*) OVER ()` gives the total. So
    it reads every row for every query, as any naive scan must to rank and count; it neither
    stops at the fifth match nor does more work than that.
    """
    from ccin_bridge.store.query import parse
    from ccin_bridge.store.text import like_pattern

    parsed = parse(query)
    where: list[str] = []
    score: list[str] = []
    params: dict[str, Any] = {}
    terms = [*parsed.words, *(w for phrase in parsed.phrases for w in phrase)]
    for i, term in enumerate(terms):
        params[f"t{i}"] = like_pattern(term)
        columns = (f"lower({c}) LIKE :t{i} ESCAPE '\\'" for c in ("title", "summary", "body"))
        where.append(f"({' OR '.join(columns)})")
        # CASE keeps the score a number on PostgreSQL too, where LIKE yields a boolean.
        score += [
            f"3 * (CASE WHEN lower(title) LIKE :t{i} ESCAPE '\\' THEN 1 ELSE 0 END)",
            f"(CASE WHEN lower(summary) LIKE :t{i} ESCAPE '\\' THEN 1 ELSE 0 END)",
        ]
    if parsed.kinds and "case_study" not in parsed.kinds:
        where.append("1 = 0")
    for name in ("member", "region"):
        value = getattr(parsed, name)
        if value:
            where.append(f"lower(coalesce({name}, '')) LIKE :{name} ESCAPE '\\'")
            params[name] = like_pattern(value.casefold())
    for name, column in (("category", "categories"), ("principle", "principles")):
        value = getattr(parsed, name)
        if value:
            where.append(f"lower(CAST({column} AS TEXT)) LIKE :{name} ESCAPE '\\'")
            params[name] = like_pattern(value.casefold())
    if parsed.years:
        where.append("year BETWEEN :year_start AND :year_end")
        params["year_start"], params["year_end"] = str(parsed.years[0]), f"{parsed.years[1]}~"
    if not where:
        return None
    ranked = " + ".join(score)
    sql = (
        f"SELECT id, title, {ranked or '0'} AS score, count(*) OVER () AS total "
        f"FROM case_studies WHERE {' AND '.join(where)} ORDER BY score DESC, id DESC LIMIT 5"
    )
    return sql, params


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def _latency(spec: dict[str, Any]) -> dict[str, Any]:
    from sqlalchemy import insert, text

    from ccin_bridge.store import search_index
    from ccin_bridge.store.db import Database
    from ccin_bridge.store.models import CaseStudy
    from ccin_bridge.store.search import search

    size, backend, url = int(spec["size"]), str(spec["backend"]), str(spec["url"])
    queries: list[str] = list(spec["queries"])
    db = Database(url)
    try:
        await db.upgrade()
        load_s = 0.0  # inserting only; generating the rows is not timed
        for rows in corpus(size, Path(spec["corpus_cache"]) if spec.get("corpus_cache") else None):
            started = time.perf_counter()
            async with db.session() as session:
                await session.execute(insert(CaseStudy), rows)
            load_s += time.perf_counter() - started
        _log(f"{backend} {size:,}: {size:,} case studies loaded in {load_s:.1f} s; indexing")
        started = time.perf_counter()
        async with db.session() as session:
            indexed = await search_index.rebuild(session)
        build_s = time.perf_counter() - started
        _log(f"{backend} {size:,}: index built in {build_s:.1f} s")
        vocabulary = 0
        async with db.session() as session:
            vocabulary = int(
                (await session.execute(text("SELECT count(*) FROM search_terms"))).scalar_one()
            )

        if backend == "postgresql":
            # Autovacuum would vacuum and analyse the fresh tables soon after a real build
            # (the vacuum marks pages all-visible, which index-only scans need).
            async with db.engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.exec_driver_sql("VACUUM ANALYZE")
        if backend == "sqlite":
            path = Path(str(db.url.database))
            # Outside the store's units of work, which begin IMMEDIATE: a checkpoint cannot
            # run inside a transaction.
            with sqlite3.connect(path) as checkpoint:
                checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db_bytes = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        else:
            async with db.session() as session:
                size_sql = text("SELECT pg_database_size(current_database())")
                db_bytes = int((await session.execute(size_sql)).scalar_one())
        rss_after_build = _peak_rss_mb()

        engine: dict[str, list[float]] = {q: [] for q in queries}
        totals: dict[str, int] = {}
        for round_number in range(int(spec["repeat"]) + 1):  # round 0 is the warm-up
            for q in queries:
                started = time.perf_counter()
                async with db.session() as session:
                    page = await search(session, q, limit=LIMIT)
                elapsed = (time.perf_counter() - started) * 1000
                if round_number:
                    engine[q].append(elapsed)
                totals[q] = page.total
        like: dict[str, list[float]] = {q: [] for q in queries}
        like_found: dict[str, int] = {}
        for round_number in range(int(spec["like_repeat"]) + 1):
            for q in queries:
                statement = like_statement(q)
                if statement is None:
                    continue
                started = time.perf_counter()
                async with db.session() as session:
                    found = (await session.execute(text(statement[0]), statement[1])).all()
                elapsed = (time.perf_counter() - started) * 1000
                if round_number:
                    like[q].append(elapsed)
                like_found[q] = len(found)
        return {
            "backend": backend, "size": size, "indexed": indexed, "load_s": load_s,
            "build_s": build_s, "db_bytes": db_bytes, "vocabulary": vocabulary,
            "rss_after_build_mb": rss_after_build, "peak_rss_mb": _peak_rss_mb(),
            "engine_ms": engine, "like_ms": like, "totals": totals, "like_found": like_found,
        }  # fmt: skip
    finally:
        await db.close()


async def _relevance(spec: dict[str, Any]) -> dict[str, Any]:
    from ccin_bridge.store import seed
    from ccin_bridge.store.db import Database
    from ccin_bridge.store.search import search

    db = Database(str(spec["url"]))
    try:
        await db.upgrade()
        async with db.session() as session:
            await seed.seed(session)
        results = []
        for judged in load_relevance_set():
            for variant, query in (("clean", judged.query), ("typo", judged.typo)):
                async with db.session() as session:
                    page = await search(session, query, limit=LIMIT)
                results.append({
                    "id": judged.id, "variant": variant, "query": query,
                    "hits": [[h.kind, h.title] for h in page.hits], "total": page.total,
                    "corrections": page.corrections, "relaxed": page.relaxed,
                })  # fmt: skip
        return {"backend": spec["backend"], "results": results}
    finally:
        await db.close()


def _worker(raw: str) -> int:
    spec = json.loads(raw)
    task = _latency if spec["task"] == "latency" else _relevance
    result = asyncio.run(task(spec))
    print(json.dumps(result))
    return 0


# --- the run ----------------------------------------------------------------------------------


class Budget:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()


def _postgres_admin() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return PG_ADMIN_URL
    except psycopg.Error as exc:
        _log(f"PostgreSQL not reachable at {PG_ADMIN_URL} ({exc.__class__.__name__}); skipping it")
        return None


def _pg_execute(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.encode())  # the names are generated here, never user input


def _run_worker(spec: dict[str, Any], budget: Budget, admin_url: str | None) -> dict[str, Any]:
    """Run one measurement in a child process, on a fresh database that is removed afterwards."""
    label = f"{spec['task']} {spec['backend']}" + (f" {spec['size']:,}" if "size" in spec else "")
    if budget.left() < 5:
        return {"error": "skipped: the time budget was used up"}
    tmp: tempfile.TemporaryDirectory[str] | None = None
    db_name = None
    if spec["backend"] == "sqlite":
        tmp = tempfile.TemporaryDirectory(prefix="ccin_bench_")
        spec["url"] = f"sqlite:///{Path(tmp.name) / 'bench.sqlite3'}"
    else:
        assert admin_url is not None
        db_name = f"ccin_bench_{uuid.uuid4().hex[:12]}"
        _pg_execute(admin_url, f'CREATE DATABASE "{db_name}"')
        spec["url"] = f"{admin_url.rsplit('/', 1)[0]}/{db_name}"
    _log(f"{label}: starting ({budget.left():.0f} s of the budget left)")
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.search", "--worker", json.dumps(spec)],
            cwd=REPO, stdout=subprocess.PIPE, text=True, timeout=max(1.0, budget.left()),
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"error": f"stopped after {time.monotonic() - started:.0f} s: time budget used up"}
    finally:
        if tmp is not None:
            tmp.cleanup()
        if db_name is not None and admin_url is not None:
            _pg_execute(admin_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"error": f"failed (exit {done.returncode}); see the log above"}
    result: dict[str, Any] = json.loads(lines[-1])
    result["wall_s"] = time.monotonic() - started
    return result


# --- the report -------------------------------------------------------------------------------


def _ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _ratio(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.2f}x" if value < 1 else f"{value:.1f}x" if value < 10 else f"{value:.0f}x"


def _pooled(per_query: dict[str, list[float]]) -> list[float]:
    return [v for values in per_query.values() for v in values]


def _relevance_scores(results: list[dict[str, Any]], variant: str) -> tuple[float, float, int]:
    expect = {j.id: j.expect for j in load_relevance_set()}
    rows = [r for r in results if r["variant"] == variant]
    recalls = [recall([tuple(h) for h in r["hits"]], expect[r["id"]]) for r in rows]
    ranks = [reciprocal_rank([tuple(h) for h in r["hits"]], expect[r["id"]]) for r in rows]
    return sum(recalls) / len(rows), sum(ranks) / len(rows), len(rows)


def _environment() -> str:
    import psycopg

    pg = "not used"
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            pg = str(row[0]) if row else "?"
    except psycopg.Error:
        pass
    load = os.getloadavg()
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs (load average {load[0]:.2f} at start), Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, PostgreSQL {pg}"
    )


def render(
    *,
    environment: str,
    args: argparse.Namespace,
    queries: Sequence[str],
    latency: list[dict[str, Any]],
    relevance: list[dict[str, Any]],
    elapsed_s: float,
) -> str:
    out: list[str] = ["## Search benchmark", ""]
    out.append(
        f"Run: {environment}; whole run {elapsed_s:.0f} s, load average "
        f"{os.getloadavg()[0]:.2f} at the end."
    )
    out.append(
        f"Synthetic case studies; {len(queries)} queries, limit {LIMIT}, one session per query; "
        f"{args.repeat} timed rounds after a warm-up (LIKE: {args.like_repeat}). "
        "Latency is pooled over all queries and rounds. Other processes may share the CPU."
    )
    out += ["", "### Latency (ms) against a naive LIKE scan", ""]
    out.append(
        "| backend | docs | load s | index build s | DB size MB | peak RSS MB | search p50 | "
        "search p95 | LIKE p50 | LIKE p95 | speed-up p50 | speed-up p95 |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run in latency:
        if "error" in run:
            out.append(f"| {run['backend']} | {run['size']:,} | {run['error']} |" + " |" * 9)
            continue
        engine, like = _pooled(run["engine_ms"]), _pooled(run["like_ms"])
        e50, e95, l50, l95 = (
            percentile(engine, 50), percentile(engine, 95),
            percentile(like, 50), percentile(like, 95),
        )  # fmt: skip
        out.append(
            f"| {run['backend']} | {run['size']:,} | {run['load_s']:.1f} | {run['build_s']:.1f} | "
            f"{run['db_bytes'] / 2**20:.0f} | {run['peak_rss_mb']:.0f} | {_ms(e50)} | {_ms(e95)} | "
            f"{_ms(l50)} | {_ms(l95)} | {_ratio(l50 / e50)} | {_ratio(l95 / e95)} |"
        )
    out += [
        "",
        "LIKE: the naive search a site without a full-text index would run: every word as "
        "`lower(column) LIKE '%word%'` over the case studies' title, summary and body (ANDed), "
        "the same filters, a score (3 per word in the title, 1 per word in the summary, ties "
        "newest first) and the total (`count(*) OVER ()`), `LIMIT 5`. It reads every row for "
        "every query, as a naive scan that ranks and counts must. The engine (SQLite) counts "
        "matches exactly up to 5,000 and estimates beyond (`about N`, also for filters over a "
        "large match set); up to 1,000 matches it ranks them all (BM25 while its IDF pass stays "
        "small), beyond that a window of the newest 300 (100 with filters) at a time by a cheap "
        "title/tag score. PostgreSQL reads and counts every match when the planner expects at "
        "most 1,500, else it reads the newest 300 and scales their number (and the share "
        "passing any filters) to the id range, as SQLite does; up to 1,000 matches it ranks "
        "all by `ts_rank_cd`, beyond that a window of the newest 100 (50 with filters) at a "
        "time, read from the narrow `search_fts` table (GIN index on its tsvector).",
    ]
    judged = load_relevance_set()
    out += ["", f"### Relevance on the real seeded data ({len(judged)} judged queries)", ""]
    out.append("| backend | queries | recall@5 | MRR@5 | target recall@5 | |")
    out.append("|---|---|---:|---:|---:|---|")
    for run in relevance:
        if "error" in run:
            out.append(f"| {run['backend']} | {run['error']} | | | | |")
            continue
        for variant, target in (("clean", TARGET_RECALL_CLEAN), ("typo", TARGET_RECALL_TYPO)):
            r5, mrr, _n = _relevance_scores(run["results"], variant)
            label = "as written" if variant == "clean" else "misspelled"
            verdict = "met" if r5 >= target else "**MISSED**"
            out.append(
                f"| {run['backend']} | {label} | {r5:.2f} | {mrr:.2f} | >= {target} | {verdict} |"
            )
    out += ["", "### Targets", ""]
    out += _targets(latency, relevance)
    out += _details(latency, relevance, judged)
    return "\n".join(out) + "\n"


def _targets(latency: list[dict[str, Any]], relevance: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "**MISSED**"

    for run in relevance:
        if "error" in run:
            lines.append(f"- relevance on {run['backend']}: NOT MEASURED ({run['error']})")
            continue
        clean, _, _ = _relevance_scores(run["results"], "clean")
        typo, _, _ = _relevance_scores(run["results"], "typo")
        lines.append(
            f"- recall@5 as written >= {TARGET_RECALL_CLEAN} on {run['backend']}: {clean:.2f}, "
            f"{verdict(clean >= TARGET_RECALL_CLEAN)}"
        )
        lines.append(
            f"- recall@5 misspelled >= {TARGET_RECALL_TYPO} on {run['backend']}: {typo:.2f}, "
            f"{verdict(typo >= TARGET_RECALL_TYPO)}"
        )
    for backend, (target_p95, target_speedup) in TARGETS.items():
        name = "SQLite" if backend == "sqlite" else "PostgreSQL"
        big = [
            r
            for r in latency
            if r["backend"] == backend and r["size"] == TARGET_SIZE and "error" not in r
        ]
        if not big:
            lines.append(
                f"- p95 <= {target_p95:g} ms and >= {target_speedup:.0f}x LIKE at "
                f"{TARGET_SIZE:,} docs on {name}: NOT MEASURED (that size did not run)"
            )
        for run in big:
            engine, like = _pooled(run["engine_ms"]), _pooled(run["like_ms"])
            p95 = percentile(engine, 95)
            speedup = percentile(like, 50) / percentile(engine, 50)
            lines.append(
                f"- search p95 <= {target_p95:g} ms at {TARGET_SIZE:,} docs on {name}: "
                f"{p95:.1f} ms, {verdict(p95 <= target_p95)}"
            )
            faster = sum(
                percentile(run["like_ms"][q], 50) > percentile(samples, 50)
                for q, samples in run["engine_ms"].items()
                if run["like_ms"].get(q)
            )
            lines.append(
                f"- >= {target_speedup:.0f}x faster than LIKE at {TARGET_SIZE:,} docs on {name} "
                f"(ratio of p50s): {_ratio(speedup)}, {verdict(speedup >= target_speedup)} "
                f"(the engine is faster on {faster} of {len(run['engine_ms'])} queries)"
            )
    return lines


def _details(
    latency: list[dict[str, Any]], relevance: list[dict[str, Any]], judged: list[Judged]
) -> list[str]:
    out: list[str] = []
    expect = {j.id: j.expect for j in judged}
    for run in relevance:
        if "error" in run:
            continue
        misses = []
        for r in run["results"]:
            hits = [tuple(h) for h in r["hits"]]
            if recall(hits, expect[r["id"]]) < 1.0:
                fixes = ", ".join(f"{k}->{v}" for k, v in r["corrections"].items()) or "none"
                wanted = "; ".join(e.title[:60] for e in expect[r["id"]])
                got = "; ".join(f"{h[1][:40]}" for h in hits) or "(nothing)"
                misses.append(
                    f"| `{r['query']}` | {recall(hits, expect[r['id']]):.2f} | {fixes} | "
                    f"{'yes' if r['relaxed'] else 'no'} | {wanted} | {got} |"
                )
        out += ["", f"### Relevance misses on {run['backend']} (recall@5 below 1)", ""]
        if not misses:
            out.append("None.")
            continue
        out.append("| query | recall@5 | corrections | relaxed | expected | got (top 5) |")
        out.append("|---|---:|---|---|---|---|")
        out += misses
    finished = [r for r in latency if "error" not in r]
    if finished:
        largest = max(r["size"] for r in finished)
        for run in (r for r in finished if r["size"] == largest):
            out += ["", f"### Per query, {run['backend']}, {largest:,} docs (ms)", ""]
            out.append("| query | hits | search p50 | search max | LIKE p50 | speed-up |")
            out.append("|---|---:|---:|---:|---:|---:|")
            for q, samples in run["engine_ms"].items():
                like = run["like_ms"].get(q) or []
                e50, l50 = percentile(samples, 50), percentile(like, 50)
                ratio = _ratio(l50 / e50) if like else "-"
                out.append(
                    f"| `{q}` | {run['totals'].get(q, 0):,} | {_ms(e50)} | "
                    f"{_ms(max(samples))} | {_ms(l50)} | {ratio} |"
                )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.search", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--sizes",
        default=",".join(str(s) for s in DEFAULT_SIZES),
        help="corpus sizes, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--queries",
        type=int,
        default=len(QUERIES),
        help=f"use the first N of the {len(QUERIES)} latency queries",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument(
        "--like-repeat", type=int, default=2, help="timed rounds of the LIKE scan (default 2)"
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--budget",
        type=float,
        default=570.0,
        help="stop after this many seconds in all (default %(default)s)",
    )
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS_FILE.name}")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)  # fmt: skip
    if args.worker:
        return _worker(args.worker)
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes takes whole numbers, e.g. 600,10000")
    if not sizes or min(sizes) < 1 or args.queries < 1 or args.repeat < 1:
        parser.error("sizes, --queries and --repeat must be positive")
    load_relevance_set()  # fail fast on a broken judged set
    began = time.monotonic()
    budget = Budget(args.budget)
    environment = _environment()
    admin = None if args.no_postgres else _postgres_admin()
    backends = ["sqlite"] + (["postgresql"] if admin else [])
    queries = list(QUERIES[: args.queries])

    relevance = []
    for backend in backends:
        result = _run_worker({"task": "relevance", "backend": backend}, budget, admin)
        relevance.append({"backend": backend, **result})
    latency = []
    with tempfile.TemporaryDirectory(prefix="ccin_bench_corpus_") as corpora:
        for size in sorted(sizes):
            for backend in backends:
                spec = {
                    "task": "latency", "backend": backend, "size": size, "queries": queries,
                    "repeat": args.repeat, "like_repeat": args.like_repeat,
                    "corpus_cache": str(Path(corpora) / f"corpus-{size}.pickle"),
                }  # fmt: skip
                result = _run_worker(spec, budget, admin)
                latency.append({"backend": backend, "size": size, **result})
    report = render(
        environment=environment, args=args, queries=queries, latency=latency,
        relevance=relevance, elapsed_s=time.monotonic() - began,
    )  # fmt: skip
    print(report)
    if not args.no_write:
        RESULTS_FILE.write_text(report, encoding="utf-8")
        _log(f"written to {RESULTS_FILE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
