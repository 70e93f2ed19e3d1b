"""The incremental search index: pending marks, the whole check, the vocabulary's counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from ccin_bridge.store import search, search_index
from ccin_bridge.store.db import Database
from ccin_bridge.store.importers import import_file
from ccin_bridge.store.models import CaseStudy, SearchDoc, SearchPending, SearchTerm


def _study(n: int, body: str = "A tenant-run zyxwarden scheme.") -> CaseStudy:
    return CaseStudy(
        title=f"Quillmoor study {n}", url=f"https://example.invalid/q/{n}", body=body,
        source="test",
    )  # fmt: skip


async def _vocabulary(db: Database) -> dict[str, int]:
    async with db.session() as session:
        return {
            t: int(d) for t, d in await session.execute(select(SearchTerm.term, SearchTerm.docs))
        }


async def _pending(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(SearchPending)) or 0)


async def test_a_write_is_marked_and_only_it_is_read(db: Database) -> None:
    async with db.session() as session:
        session.add_all([_study(1), _study(2)])
    assert await _pending(db) == 2  # committed without indexing, as an interrupted import
    async with db.session() as session:
        report = await search_index.sync(session)
        page = await search.search(session, "quillmoor")
    assert (report.documents, report.inserted, report.whole) == (2, 2, False)
    assert page.total == 2 and await _pending(db) == 0


async def test_a_rolled_back_write_leaves_no_mark(db: Database) -> None:
    async def fail_midway() -> None:
        async with db.session() as session:
            session.add(_study(3))
            await session.flush()
            raise RuntimeError("the import failed")

    with pytest.raises(RuntimeError):
        await fail_midway()
    assert await _pending(db) == 0


async def test_incremental_counts_match_a_recount(db: Database) -> None:
    async with db.session() as session:
        session.add_all([_study(n) for n in range(4)])
        await search_index.sync(session)
    async with db.session() as session:
        first = await session.scalar(
            select(CaseStudy).where(CaseStudy.title == "Quillmoor study 0")
        )
        assert first is not None
        first.body = "Now about a qwertbrook allotment."
        await session.execute(delete(CaseStudy).where(CaseStudy.title == "Quillmoor study 1"))
        report = await search_index.sync(session)
    assert (report.updated, report.deleted, report.whole) == (1, 1, False)
    incremental = await _vocabulary(db)
    assert incremental["zyxwarden"] == 2 and incremental["qwertbrook"] == 1
    async with db.session() as session:
        recount = await search_index.sync(session, whole=True)
    assert recount.whole and (recount.inserted, recount.updated, recount.deleted) == (0, 0, 0)
    assert await _vocabulary(db) == incremental


async def test_an_index_written_another_way_is_checked_whole(db: Database) -> None:
    async with db.session() as session:
        await session.execute(update(SearchDoc).values(text_tags=""))  # e.g. an older version
    async with db.session() as session:
        report = await search_index.sync(session)
        again = await search_index.sync(session)
    assert report.whole and report.updated > 0
    assert not again.whole and again.documents == 0  # in step again: nothing read


async def test_a_new_index_format_is_checked_whole(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "INDEX_FORMAT", search_index.INDEX_FORMAT + 1)
    async with db.session() as session:
        report = await search_index.sync(session)
        again = await search_index.sync(session)
    assert report.whole and report.documents > 0 and not again.whole


async def test_an_import_indexes_its_rows_at_once(db: Database, tmp_path: Path) -> None:
    source = tmp_path / "studies.csv"
    source.write_text(
        "title,url,summary\nQuillmoor orchard,https://example.invalid/o/1,Zyxwarden trees\n",
        encoding="utf-8",
    )
    async with db.session() as session:
        report = await import_file(session, "case-studies", source)
        page = await search.search(session, "zyxwarden")
    assert report.created == 1 and [h.title for h in page.hits] == ["Quillmoor orchard"]
    assert await _pending(db) == 0
