"""Search and reference look-ups over the seeded data, on both backends."""

from __future__ import annotations

import pytest

from store import reference, search
from store.db import Database


async def test_food_finds_the_sustainable_food_lab(db: Database) -> None:
    async with db.session() as session:
        page = await search.search(session, "food")
    assert page.hits, "no results for food"
    assert "Sustainable Food" in page.hits[0].title
    assert page.hits[0].kind == "project"


async def test_stems_prefixes_and_hyphens(db: Database) -> None:
    async with db.session() as session:
        plural = await search.search(session, "councils", limit=50)
        hyphen = await search.search(session, "co-operative", limit=50)
        plain = await search.search(session, "cooperative", limit=50)
    assert plural.total > 0
    assert hyphen.total == plain.total > 0


async def test_paging_is_consistent(db: Database) -> None:
    async with db.session() as session:
        everything = await search.search(session, "council", limit=1000)
        first = await search.search(session, "council", limit=3)
        second = await search.search(session, "council", offset=3, limit=3)
    assert everything.total >= 6
    assert [h.id for h in first.hits + second.hits] == [h.id for h in everything.hits[:6]]
    scores = [h.score for h in everything.hits]  # one word: every hit matches it, rank by score
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    "query", ["", "   ", "*", '"unbalanced', "NEAR(a b)", "a AND OR NOT", "%_\\", "🙂", "(("]
)
async def test_any_string_is_safe(db: Database, query: str) -> None:
    async with db.session() as session:
        page = await search.search(session, query)
    assert page.total >= 0


async def test_suppliers_by_service_words(db: Database) -> None:
    async with db.session() as session:
        everyone = await reference.suppliers(session)
        solicitors = await reference.suppliers(session, "solicitors")
        nobody = await reference.suppliers(session, "zzzz")
    assert len(everyone) == 23
    assert [s.name for s in solicitors] == ["Anthony Collins Solicitors"]
    assert nobody == []


async def test_organisations_filter_by_type_and_words(db: Database) -> None:
    async with db.session() as session:
        full = await reference.organisations(session, member_types=("full",))
        oldham = await reference.organisations(session, "oldham")
    assert full and all(o.member_type == "full" for o in full)
    assert any("Oldham" in o.name for o in oldham)
