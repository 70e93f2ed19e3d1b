"""Inline-mode cards, platform-neutral: paging by offset, the empty query, odd input."""

from __future__ import annotations

import pytest

from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.inline import MAX_OFFSET, PAGE_SIZE, card_for, inline_page, parse_offset
from ccin_bridge.store import search as store_search
from ccin_bridge.store.records import SearchHit


@pytest.mark.parametrize(
    ("offset", "expected"),
    [("", 0), ("20", 20), (" 40 ", 40), ("-5", 0), ("x", 0), ("٣", 0), ("9" * 30, MAX_OFFSET)],
)
def test_offsets_we_did_not_hand_out_mean_the_first_page(offset: str, expected: int) -> None:
    assert parse_offset(offset) == expected


async def test_pages_follow_each_other_until_the_end(bridge: Bridge) -> None:
    seen: list[str] = []
    offset = ""
    for _ in range(20):
        page = await inline_page(bridge, "council", offset)
        assert len(page.cards) <= PAGE_SIZE
        seen += [c.id for c in page.cards]
        offset = page.next_offset
        if not offset:
            break
    assert len(seen) > PAGE_SIZE  # more than one page, and no card twice
    assert len(seen) == len(set(seen))
    assert all(card_id.split(":")[0] in store_search.KINDS for card_id in seen)


async def test_an_empty_query_lists_suppliers(bridge: Bridge) -> None:
    page = await inline_page(bridge, "  ")
    assert page.cards and all(c.id.startswith("supplier:") for c in page.cards)
    assert "Anthony Collins Solicitors" in [c.title for c in page.cards]


@pytest.mark.parametrize("query", ['kind:"', "year:x..y", "\u202e\x00<&>", "🙂" * 300])
async def test_odd_input_never_raises(bridge: Bridge, query: str) -> None:
    page = await inline_page(bridge, query, "junk")
    assert len(page.cards) <= PAGE_SIZE


async def test_a_failing_search_is_logged_and_answered_with_nothing(
    bridge: Bridge, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(store_search, "search", broken)
    page = await inline_page(bridge, "food")
    assert page.cards == () and page.next_offset == ""
    [record] = [r for r in caplog.records if r.name == "ccin_bridge.handlers.inline"]
    assert record.exc_info is not None and "inline search failed" in record.getMessage()


def test_a_card_carries_its_facts_and_a_short_message() -> None:
    hit = SearchHit(
        kind="project", id=7, title="Food <Co-op> & Friends", url="https://example.org/p",
        member="Exampleton Council", year="2024", summary="word " * 400, score=1.0,
    )  # fmt: skip
    card = card_for(hit)
    assert card.id == "project:7" and card.url == "https://example.org/p"
    assert card.description.startswith("Funded project, Exampleton Council, 2024: word")
    assert len(card.description) <= 160
    assert card.message.blocks[0].spans[0].link == "https://example.org/p"  # type: ignore[union-attr]
    assert len(card.message.plain_text) < 1000


async def test_inline_covers_every_kind_search_covers(bridge: Bridge) -> None:
    async with bridge.db.read() as session:
        searched = await store_search.search(session, "housing", limit=PAGE_SIZE)
    page = await inline_page(bridge, "housing")
    assert [c.id for c in page.cards] == [f"{h.kind}:{h.id}" for h in searched.hits]
    assert "publication" in {c.id.split(":")[0] for c in page.cards}


async def test_inline_corrects_typos_as_search_does(bridge: Bridge) -> None:
    page = await inline_page(bridge, "houseeing")
    assert "publication" in {c.id.split(":")[0] for c in page.cards}
