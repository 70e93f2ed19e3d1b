"""Search over more matches than are ranked at once: windows, filters, estimates, narrowing."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from ccin_bridge.store import search, search_index
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import CaseStudy


async def _corpus(db: Database, size: int = 60) -> None:
    rows = [
        {
            "title": f"Garden project {n}" if n % 3 else f"Orchard {n}",
            "url": f"https://example.invalid/{n}",
            "member": "Oldham Council" if n % 4 == 0 else "Kirklees Council",
            "region": "North West",
            "year": str(2015 + n % 10),
            "categories": ["Community"],
            "principles": ["Co-production"] if n % 2 else ["Innovation"],
            "summary": f"Residents grow food in garden number {n}.",
            "body": "A community garden run by volunteers.",
            "source": "test",
        }
        for n in range(size)
    ]
    async with db.session() as session:
        await session.execute(insert(CaseStudy), rows)
        await search_index.rebuild(session)


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "RANK_ALL", 10)
    monkeypatch.setattr(search, "WINDOW", 7)


async def _all_pages(db: Database, query: str, total: int) -> list[int]:
    ids: list[int] = []
    for offset in range(0, total + 10, 4):
        async with db.session() as session:
            page = await search.search(
                session, query, kinds=("case_study",), offset=offset, limit=4
            )
        ids += [h.id for h in page.hits]
    return ids


async def test_windows_page_through_every_match_once(db: Database, small_windows: None) -> None:
    await _corpus(db)
    async with db.session() as session:
        first = await search.search(session, "garden", limit=4)
    assert first.total >= 60 and type(first.total) is int  # unfiltered totals stay exact
    ids = await _all_pages(db, "garden", first.total)
    assert len(ids) == len(set(ids)) == first.total


async def test_filtered_windows_estimate_and_say_so(db: Database, small_windows: None) -> None:
    await _corpus(db)
    async with db.session() as session:
        page = await search.search(session, "garden year:2016..2020", limit=4)
    assert page.hits and all(h.year and 2016 <= int(h.year) <= 2020 for h in page.hits)
    assert f"{page.total}".startswith("about ") or type(page.total) is int
    ids = await _all_pages(db, "garden year:2016..2020", 60)
    assert len(ids) == len(set(ids)) == 30  # every matching document, each once


async def test_tag_narrowing_keeps_exact_filter_results(db: Database) -> None:
    await _corpus(db)
    async with db.session() as session:
        whole = await search.search(session, "garden member:oldham", limit=100)
        part = await search.search(session, "garden member:ldha", limit=100)  # inside a word
        principle = await search.search(session, "garden principle:co-production", limit=100)
    assert whole.total == part.total == 15
    assert {h.id for h in whole.hits} == {h.id for h in part.hits}
    assert principle.total == 30


def test_estimate_reads_about() -> None:
    estimate = search.Estimate(2600)
    assert f"{estimate} results" == "about 2,600 results" and estimate + 1 == 2601
    assert search._estimate(3, 10, 1000) == 300 and search._estimate(5, 10, 10) == 5


async def test_sync_rewrites_only_what_changed(db: Database) -> None:
    await _corpus(db, size=12)
    async with db.session() as session:
        again = await search_index.sync(session)
    assert again == search_index.SyncReport()  # nothing pending: nothing read or written
    async with db.session() as session:
        ours = select(CaseStudy).where(CaseStudy.url.like("https://example.invalid/%"))
        study, gone = list(await session.scalars(ours.order_by(CaseStudy.id).limit(2)))
        study.title = "Renamed orchard"
        await session.delete(gone)
        await session.flush()
        report = await search_index.sync(session)
        renamed = await search.search(session, "renamed")
    assert (report.updated, report.deleted, report.inserted) == (1, 1, 0)
    assert report.documents == 1 and not report.whole  # only the two rows written were read
    assert [h.title for h in renamed.hits] == ["Renamed orchard"]


async def test_totals_past_the_count_cap_are_estimates(
    db: Database, small_windows: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Large enough next to the seeded documents (ids below it) for the density scaling.
    await _corpus(db, size=150)
    async with db.session() as session:
        exact = (await search.search(session, "garden", limit=4)).total
    monkeypatch.setattr(search, "COUNT_CAP", 20)
    monkeypatch.setattr(search, "PG_COUNTED", 10)  # PostgreSQL: beyond, the newest 20 read
    monkeypatch.setattr(search, "PG_SAMPLE", 20)
    async with db.session() as session:
        first = await search.search(session, "garden", limit=4)
    # Scaled from the newest 20 matches by id density: rough where the corpus is uneven.
    assert isinstance(first.total, search.Estimate) and exact / 3 <= first.total <= exact * 3
    async with db.session() as session:
        past = await search.search(session, "garden", offset=10_000, limit=4)
    assert not past.hits and past.total == first.total  # "no more results", same estimate
    ids: list[tuple[str, int]] = []
    for offset in range(0, exact + 8, 4):  # paging does not depend on the total
        async with db.session() as session:
            page = await search.search(session, "garden", offset=offset, limit=4)
        ids += [(h.kind, h.id) for h in page.hits]
    assert len(ids) == len(set(ids)) == exact


async def test_cheap_score_puts_title_matches_first(
    db: Database, small_windows: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _corpus(db)
    monkeypatch.setattr(search, "BM25_BUDGET", 0)  # as on a very large corpus
    for window in ("RANK_ALL", "WINDOW"):  # ranked all at once, then a window at a time
        monkeypatch.setattr(search, window, 1_000)
        async with db.session() as session:
            page = await search.search(session, "orchard", kinds=("case_study",), limit=5)
        assert page.hits and all(h.title.startswith("Orchard") for h in page.hits)


async def test_filters_without_words_page_newest_first_then_by_title(db: Database) -> None:
    await _corpus(db)
    seen: list[tuple[int, str]] = []
    for offset in range(0, 40, 5):
        async with db.session() as session:
            page = await search.search(
                session, "kind:case-study year:2017..2020", offset=offset, limit=5
            )
        assert page.total == 24
        seen += [(int(h.year or 0), h.title) for h in page.hits]
    assert len(seen) == len(set(seen)) == 24
    assert seen == sorted(seen, key=lambda hit: (-hit[0], hit[1]))  # newest first, then title


async def test_postgresql_samples_and_windows_page_through_every_match_once(
    db: Database, small_windows: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny limits, so every step of PostgreSQL's plan runs: read the newest few, estimate,
    # rank windows from what was read and then from the index (SQLite ignores them).
    for name, value in (("PG_COUNTED", 5), ("PG_SAMPLE", 8), ("PG_WINDOW", 6)):
        monkeypatch.setattr(search, name, value)
    monkeypatch.setattr(search, "PG_FILTERED_WINDOW", 3)
    await _corpus(db)
    for query, expected in (("garden", 60), ("garden year:2016..2020", 30)):
        ids = await _all_pages(db, query, expected)
        assert len(ids) == len(set(ids)) == expected
    # None of the newest matches read passes `year:2015` (it used to say "about 4" and offer
    # no next page): the passing ones are counted instead.
    async with db.session() as session:
        first = await search.search(session, "garden year:2015", kinds=("case_study",), limit=4)
    assert len(first.hits) == 4 and first.total > 4
    ids = await _all_pages(db, "garden year:2015", 6)
    assert len(ids) == len(set(ids)) == 6
