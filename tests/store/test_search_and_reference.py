"""Search and reference look-ups over the seeded data, on both backends."""

from __future__ import annotations

import pytest

from ccin_bridge.store import reference, search
from ccin_bridge.store.db import Database
from ccin_bridge.store.search_index import hyphen_parts


async def test_food_finds_the_sustainable_food_lab(db: Database) -> None:
    async with db.session() as session:
        page = await search.search(session, "food")
    assert page.hits, "no results for food"
    assert "Sustainable Food" in page.hits[0].title
    assert page.hits[0].kind == "project"
    assert page.hits[0].url == "https://bit.ly/CCIN-sustainable-food"


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


# --- the full-text engine ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("houseing", "housing"), ("cooperatve", "cooperative"), ("sustainible", "sustainable")],
)
async def test_typos_are_corrected_to_the_vocabulary(
    db: Database, typed: str, expected: str
) -> None:
    async with db.session() as session:
        page = await search.search(session, typed)
    assert page.corrections.get(typed, "").startswith(expected[:6])
    assert page.total > 0


async def test_phrases_match_in_order(db: Database) -> None:
    async with db.session() as session:
        phrase = await search.search(session, '"sustainable food"', limit=50)
        reversed_phrase = await search.search(session, '"food sustainable"', limit=50)
    assert any("Sustainable Food" in h.title for h in phrase.hits)
    assert not any("Sustainable Food" in h.title for h in reversed_phrase.hits)


async def test_prefixes_match(db: Database) -> None:
    async with db.session() as session:
        page = await search.search(session, "sustain", limit=50)
    assert any("Sustainable Food" in h.title for h in page.hits)


async def test_kind_and_year_filters(db: Database) -> None:
    async with db.session() as session:
        suppliers = await search.search(session, "kind:supplier", limit=50)
        solicitors = await search.search(session, "solicitors kind:supplier")
        recent = await search.search(session, "kind:project year:2024..2025", limit=100)
        bad = await search.search(session, "food kind:spaceship year:soon")
    assert suppliers.total == 23 and {h.kind for h in suppliers.hits} == {"supplier"}
    assert [h.title for h in solicitors.hits] == ["Anthony Collins Solicitors"]
    assert recent.total > 0
    assert all(h.kind == "project" and h.year and "202" in h.year for h in recent.hits)
    assert len(bad.problems) == 2 and bad.total > 0


async def test_member_filter(db: Database) -> None:
    async with db.session() as session:
        oldham = await search.search(session, "member:oldham", limit=100)
    assert oldham.total > 0
    assert all("oldham" in (h.member or "").casefold() for h in oldham.hits)


async def test_no_document_has_every_word_so_some_are_shown(db: Database) -> None:
    async with db.session() as session:
        page = await search.search(session, "food zzyzx")
    assert page.relaxed and any("Sustainable Food" in h.title for h in page.hits)


async def test_past_the_last_page_still_counts(db: Database) -> None:
    async with db.session() as session:
        page = await search.search(session, "food", offset=500)
    assert page.hits == () and page.total > 0


async def test_phrases_keep_their_stopwords(db: Database) -> None:
    async with db.session() as session:
        page = await search.search(session, '"bank of kindness"')
    assert not page.relaxed
    assert [h.title for h in page.hits] == ["Cooperative Community Bank of Kindness"]


async def test_complete_words_match_their_stem_not_every_longer_word(db: Database) -> None:
    async with db.session() as session:
        exact = await search.search(session, "food", limit=100)
        unfinished = await search.search(session, "foo", limit=100)
    assert exact.total >= 1 and unfinished.total >= exact.total


def test_hyphen_parts_are_folded_and_deduplicated() -> None:
    assert hyphen_parts("A dementia-friendly, co-operative town", "Dementia-Friendly") == (
        "dementia friendly operative"
    )
    assert hyphen_parts("no hyphens here") == ""


async def test_hyphenated_words_are_found_by_their_parts(db: Database) -> None:
    for query in ("dementia friendly", "demensia friendly", "friendly burntwood"):
        async with db.session() as session:
            page = await search.search(session, query, limit=5)
        assert "Enabling a dementia-friendly Burntwood" in [h.title for h in page.hits], query
