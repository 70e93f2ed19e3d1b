"""Keep the search index (search_docs + vocabulary) in step with case studies, projects,
suppliers and member organisations.

The database keeps the full-text structures in step with search_docs by itself (FTS5
triggers; on PostgreSQL, triggers filling search_fts); this module decides what text goes in.
Triggers on the sources mark each written row pending (migration 0011), and `sync` reads only
those: an import, seed or edit of ten rows re-indexes ten documents, and a start with nothing
pending costs two small reads. Marks rather than a fingerprint per source (counts, max id):
an edit that keeps both would slip past a fingerprint, and a mark is written in the writer's
own transaction, so an import interrupted after some commits leaves exactly its unindexed rows
marked. A whole check (sources walked in id order, a chunk at a time, memory flat) runs when
the state says the index may be wrong in other ways: a new INDEX_FORMAT, or search_docs
written by something other than sync.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store import spelling
from ccin_bridge.store.models import (
    CaseStudy,
    Organisation,
    Project,
    SearchDoc,
    SearchPending,
    SearchState,
    SearchTerm,
    Supplier,
)
from ccin_bridge.store.text import STOPWORDS, fold, word_set
from ccin_bridge.store.upsert import insert_new

CHUNK = 2_000  # source rows read, compared and written at a time
_YEAR = re.compile(r"(\d{4})")
DOCS: Table = SearchDoc.__table__  # type: ignore[assignment]
TERMS: Table = SearchTerm.__table__  # type: ignore[assignment]
PENDING: Table = SearchPending.__table__  # type: ignore[assignment]
STATE: Table = SearchState.__table__  # type: ignore[assignment]
# Bump when what `_doc` or `_words` produce changes: the next sync then checks every document.
INDEX_FORMAT = 2  # 2: resources apart from funded projects; member organisations
# The fields compared to decide whether a document changed (everything but id and created_at).
_FIELDS = (
    "kind", "ref_id", "title", "url", "member", "region", "year_from", "year_label",
    "categories", "principles", "summary", "text_title", "text_tags", "text_body",
    "facet_categories", "facet_principles",
)  # fmt: skip


def first_year(label: str | None) -> int | None:
    match = _YEAR.search(label or "")
    return int(match.group(1)) if match else None


_HYPHENATED = re.compile(r"[^\W_]+(?:[-‐‑–][^\W_]+)+")
_HYPHENS = re.compile(r"[-‐‑–]")


def hyphen_parts(*texts: str) -> str:
    """The parts of hyphenated words, which fold joins (`dementia-friendly` is indexed as
    `dementiafriendly`): they go in the tags column so `dementia` alone finds the document."""
    parts = dict.fromkeys(
        fold(part)
        for text in texts
        if "-" in text or not text.isascii()
        for match in _HYPHENATED.finditer(text)
        for part in _HYPHENS.split(match.group(0))
        if len(part) >= 3
    )
    return " ".join(parts)


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
) -> dict[str, Any]:
    tags = [member or "", region or "", *categories, *principles, *extra_tags]
    return {
        "kind": kind, "ref_id": ref_id, "title": title, "url": url, "member": member,
        "region": region, "year_from": first_year(year), "year_label": year,
        "categories": categories, "principles": principles, "summary": summary,
        "text_title": fold(title),
        "text_tags": fold(" ; ".join([*(t for t in tags if t), hyphen_parts(title, summary)])),
        "text_body": fold(f"{summary}\n{body}"),
        "facet_categories": _facets(categories), "facet_principles": _facets(principles),
    }  # fmt: skip


def _case_study(c: Any) -> dict[str, Any]:
    return _doc(
        kind="case_study", ref_id=c.id, title=c.title, url=c.url, member=c.member,
        region=c.region, year=c.year, categories=list(c.categories or []),
        principles=list(c.principles or []), summary=c.summary or "", body=c.body or "",
    )  # fmt: skip


# A project's kind in the seeds -> its kind in search: only labs and prototypes are funded
# projects; the members' pack, brand guidelines and training are the network's resources.
PROJECT_KINDS = {"policy_lab": "project", "policy_prototype": "project", "report": "publication"}
MEMBER_KINDS = {"full": "Full", "associate": "Associate", "affiliate": "Affiliate"}


def _project(p: Any) -> dict[str, Any]:
    return _doc(
        kind=PROJECT_KINDS.get(p.kind, "resource"), ref_id=p.id, title=p.title, url=p.url,
        member=p.lead, region=None, year=p.year, categories=list(p.categories or []),
        principles=list(p.principles or []), summary=p.summary or "", body="",
        extra_tags=[p.kind.replace("_", " "), *(p.partners or [])],
    )  # fmt: skip


def _organisation(o: Any) -> dict[str, Any] | None:
    """A member organisation; supporters are not members (and some are individuals)."""
    if o.member_type not in MEMBER_KINDS:
        return None
    subtype = f" ({o.subtype.replace('_', ' ')})" if o.subtype else ""
    return _doc(
        kind="member", ref_id=o.id, title=o.name, url=None, member=o.name, region=None,
        year=None, categories=[], principles=[],
        summary=f"{MEMBER_KINDS[o.member_type]} member of the network{subtype}.", body="",
        extra_tags=[f"{o.member_type} member", "member organisation"],
    )  # fmt: skip


def _supplier(s: Any) -> dict[str, Any]:
    return _doc(
        kind="supplier", ref_id=s.id, title=s.name, url=s.website, member=None, region=None,
        year=None, categories=list(s.lots or []), principles=[], summary=s.services or "",
        body="", extra_tags=["dynamic purchasing system", "dps supplier"],
    )  # fmt: skip


@dataclass(frozen=True)
class _Source:
    table: Table
    columns: tuple[str, ...]
    kinds: tuple[str, ...]  # the document kinds this source produces
    build: Any  # row -> document dict, or None for a row that is not searchable


SOURCES = (
    _Source(
        CaseStudy.__table__,  # type: ignore[arg-type]
        ("id", "title", "url", "member", "region", "year", "categories", "principles",
         "summary", "body"),
        ("case_study",), _case_study,
    ),
    _Source(
        Project.__table__,  # type: ignore[arg-type]
        ("id", "title", "kind", "lead", "partners", "year", "url", "summary", "categories",
         "principles"),
        ("project", "publication", "resource"), _project,
    ),
    _Source(
        Supplier.__table__,  # type: ignore[arg-type]
        ("id", "name", "services", "lots", "website"), ("supplier",), _supplier,
    ),
    _Source(
        Organisation.__table__,  # type: ignore[arg-type]
        ("id", "name", "member_type", "subtype"), ("member",), _organisation,
    ),
)  # fmt: skip


def _build(source: _Source, rows: Iterable[Any]) -> list[dict[str, Any]]:
    return [doc for row in rows if (doc := source.build(row)) is not None]


def _words(doc: Mapping[Any, Any]) -> set[str]:
    """The vocabulary words of one document (for typo correction)."""
    found = word_set(doc["text_title"]) | word_set(doc["text_tags"]) | word_set(doc["text_body"])
    return {w for w in found - STOPWORDS if 3 <= len(w) <= 64 and not w.isdigit()}


async def _chunks(session: AsyncSession, source: _Source) -> AsyncIterator[Sequence[Any]]:
    """Source rows in id order, CHUNK at a time (keyset paging: no ORM objects, flat memory)."""
    last = None
    id_column = source.table.c.id
    while True:
        query: Select[Any] = select(*(source.table.c[c] for c in source.columns))
        if last is not None:
            query = query.where(id_column > last)
        rows = (await session.execute(query.order_by(id_column).limit(CHUNK))).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


@dataclass
class SyncReport:
    documents: int = 0  # documents compared with their source rows
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    whole: bool = False  # every document was checked, not only the pending ones


async def sync(session: AsyncSession, *, whole: bool | None = None) -> SyncReport:
    """Bring the index in step with its sources, writing only documents that changed.

    Only source rows marked pending are read (triggers mark every write, migration 0011),
    unless `whole`, or the index's state asks for a whole check: a format other than
    INDEX_FORMAT (an upgrade that indexes differently), or search_docs written by something
    other than sync. So when nothing changed this is two small reads, whatever the corpus.
    """
    # FOR UPDATE (PostgreSQL): one sync at a time, which also orders their locks.
    query = select(STATE.c.name, STATE.c.value).with_for_update()
    state: dict[str, int] = {n: int(v) for n, v in (await session.execute(query)).all()}
    in_step = state.get("format") == INDEX_FORMAT and state.get("in_step") == 1
    report = SyncReport(whole=not in_step if whole is None else whole)
    if report.whole:
        # Marks made after this are for rows the walk may already have passed: they stay.
        await session.execute(delete(PENDING))
        await _sync_whole(session, report)
    else:
        delta: Counter[str] = Counter()
        for source in SOURCES:
            while ids := await _take_pending(session, source):
                query = select(*(source.table.c[c] for c in source.columns))
                rows = (await session.execute(query.where(source.table.c.id.in_(ids)))).all()
                span = DOCS.c.ref_id.in_(ids)
                await _reconcile(session, source, _build(source, rows), span, report, delta)
        await _apply_vocabulary(session, delta)
    changed = bool(report.inserted or report.updated or report.deleted)
    if report.whole or (in_step and changed):  # our own writes cleared `in_step`
        for name, value in (
            ("format", INDEX_FORMAT if report.whole else state.get("format", 0)),
            ("in_step", 1),
        ):
            await session.execute(update(STATE).where(STATE.c.name == name).values(value=value))
    if changed or report.whole:
        spelling.forget(str(session.get_bind().engine.url))
    return report


async def _take_pending(session: AsyncSession, source: _Source) -> list[int]:
    """Up to CHUNK of the source's pending ids, unmarked first: a write committed after
    this marks its row again (on PostgreSQL it waits for this transaction to do so)."""
    ours = PENDING.c.source == source.table.name
    chosen = select(PENDING.c.ref_id).where(ours).order_by(PENDING.c.ref_id).limit(CHUNK)
    taken = delete(PENDING).where(ours, PENDING.c.ref_id.in_(chosen)).returning(PENDING.c.ref_id)
    return sorted(int(i) for i in (await session.execute(taken)).scalars())


async def _sync_whole(session: AsyncSession, report: SyncReport) -> None:
    """Every source row in id order, a chunk at a time; the vocabulary is counted afresh."""
    vocabulary: Counter[str] = Counter()
    for source in SOURCES:
        in_kinds = DOCS.c.kind.in_(source.kinds)
        previous: int | None = None
        async for rows in _chunks(session, source):
            docs = _build(source, rows)
            for doc in docs:
                vocabulary.update(_words(doc))
            span = DOCS.c.ref_id <= rows[-1].id
            if previous is not None:
                span = and_(span, DOCS.c.ref_id > previous)
            previous = rows[-1].id
            await _reconcile(session, source, docs, span, report)
        tail = delete(DOCS).where(in_kinds)
        if previous is not None:
            tail = tail.where(DOCS.c.ref_id > previous)
        report.deleted += (await session.execute(tail)).rowcount or 0  # type: ignore[attr-defined]
    await _write_vocabulary(session, vocabulary)


async def _reconcile(
    session: AsyncSession,
    source: _Source,
    docs: list[dict[str, Any]],
    span: ColumnElement[bool],
    report: SyncReport,
    delta: Counter[str] | None = None,
) -> None:
    """Make the source's stored documents within `span` the `docs` built from its rows;
    `delta` collects the vocabulary's change in document counts (when not recounted)."""
    query = select(DOCS.c.id, *(DOCS.c[f] for f in _FIELDS))
    found = await session.execute(query.where(DOCS.c.kind.in_(source.kinds), span))
    stored = {(r.kind, r.ref_id): r for r in found}
    new, changed = [], []
    for doc in docs:
        old = stored.pop((doc["kind"], doc["ref_id"]), None)
        if old is None:
            new.append(doc)
        elif any(getattr(old, f) != doc[f] for f in _FIELDS):
            changed.append({**doc, "doc_id": old.id})
        else:
            continue
        if delta is not None:
            delta.update(_words(doc))
            delta.subtract(_words(old._mapping) if old is not None else ())
    if stored:  # gone from the source, or moved kind (a project now a report)
        gone = [r.id for r in stored.values()]
        await session.execute(delete(DOCS).where(DOCS.c.id.in_(gone)))
        report.deleted += len(gone)
        if delta is not None:
            for old in stored.values():
                delta.subtract(_words(old._mapping))
    if changed:
        await session.execute(
            update(DOCS).where(DOCS.c.id == bindparam("doc_id")),
            changed,
            execution_options={"synchronize_session": False},
        )
    if new:
        await session.execute(insert(DOCS), new)
    report.documents += len(docs)
    report.inserted += len(new)
    report.updated += len(changed)


async def _write_vocabulary(session: AsyncSession, vocabulary: Counter[str]) -> None:
    stored = {t: int(d) for t, d in await session.execute(select(TERMS.c.term, TERMS.c.docs))}
    gone = [t for t in stored if t not in vocabulary]
    for start in range(0, len(gone), CHUNK):
        await session.execute(delete(TERMS).where(TERMS.c.term.in_(gone[start : start + CHUNK])))
    changed = [{"t": t, "d": n} for t, n in vocabulary.items() if t in stored and stored[t] != n]
    if changed:
        await session.execute(
            update(TERMS).where(TERMS.c.term == bindparam("t")).values(docs=bindparam("d")),
            changed,
            execution_options={"synchronize_session": False},
        )
    new = [{"term": t, "docs": n} for t, n in vocabulary.items() if t not in stored]
    for start in range(0, len(new), CHUNK * 5):
        await session.execute(insert(TERMS), new[start : start + CHUNK * 5])


async def _apply_vocabulary(session: AsyncSession, delta: Counter[str]) -> None:
    """Add each word's change in document count; words no document has any more go."""
    changes = sorted((t, n) for t, n in delta.items() if n)
    for start in range(0, len(changes), CHUNK):
        part = changes[start : start + CHUNK]
        upsert = insert_new(session, SearchTerm).values([{"term": t, "docs": n} for t, n in part])
        await session.execute(
            upsert.on_conflict_do_update(
                index_elements=["term"], set_={"docs": TERMS.c.docs + upsert.excluded.docs}
            )
        )
        fewer = [t for t, n in part if n < 0]
        if fewer:
            await session.execute(delete(TERMS).where(TERMS.c.term.in_(fewer), TERMS.c.docs <= 0))


async def is_empty(session: AsyncSession) -> bool:
    return await session.scalar(select(DOCS.c.id).limit(1)) is None


async def rebuild(session: AsyncSession) -> int:
    """Check every document against its source (writing only what changed); returns how many
    documents the index holds. `sync` is the cheap, usual way."""
    report = await sync(session, whole=True)
    return report.documents
