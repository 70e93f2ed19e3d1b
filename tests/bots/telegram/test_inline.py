"""Inline mode end to end: `@bot words` -> answerInlineQuery with article cards and paging.

The fake checks each answer as Telegram does (at most 50 results, unique ids of at most 64
bytes, HTML message text, next_offset of at most 64 bytes), so any refusal fails the test.
"""

from __future__ import annotations

from typing import Any

import pytest

from ccin_bridge.store import search as store_search
from tests.bots.telegram.conftest import ALICE, Harness
from tests.fakes.telegram_api import InlineAnswer, parse_html


async def ask_inline(telegram: Harness, query: str, offset: str = "") -> InlineAnswer:
    query_id = await telegram.api.push_inline_query(ALICE, query, offset)
    await telegram.api.wait_for(
        lambda: any(a.query_id == query_id for a in telegram.api.inline_answers)
    )
    return telegram.api.answer_to(query_id)


def message_of(result: dict[str, Any]) -> str:
    return str(result["input_message_content"]["message_text"])


async def test_an_inline_query_pages_with_next_offset(telegram: Harness) -> None:
    first = await ask_inline(telegram, "council")
    assert 0 < len(first.results) <= 50
    assert first.next_offset == str(len(first.results))
    assert first.is_personal is False and first.cache_time is not None
    assert first.cache_time <= 60
    second = await ask_inline(telegram, "council", first.next_offset)
    assert second.results
    assert not set(first.ids) & set(second.ids)  # the next page, not the same one again
    pages = [first, second]
    while pages[-1].next_offset:
        pages.append(await ask_inline(telegram, "council", pages[-1].next_offset))
    assert pages[-1].next_offset == ""
    every = [i for page in pages for i in page.ids]
    assert len(every) == len(set(every))
    for result in first.results:
        assert result["type"] == "article"
        assert result["id"].split(":")[0] in store_search.KINDS  # every kind /search covers
        assert result["input_message_content"]["parse_mode"] == "HTML"
        assert result["title"] and result["description"]


async def test_a_card_posts_the_result_with_its_data_escaped_and_a_link_button(
    telegram: Harness,
) -> None:
    answer = await ask_inline(telegram, "Stevenage")
    [card] = [r for r in answer.results if "&" in r["description"]]
    html = message_of(card)
    assert "&amp;" in html  # "Stevenage Borough Council & Brent Council"
    assert "Stevenage Borough Council & Brent Council" in parse_html(html)
    if card.get("url"):
        [[button]] = card["reply_markup"]["inline_keyboard"]
        assert button == {"text": "Open the page", "url": card["url"]}


async def test_an_empty_query_offers_the_dps_suppliers(telegram: Harness) -> None:
    answer = await ask_inline(telegram, "")
    titles = [r["title"] for r in answer.results]
    assert "Anthony Collins Solicitors" in titles
    assert {r["id"].split(":")[0] for r in answer.results} == {"supplier"}


@pytest.mark.parametrize(
    ("query", "offset"),
    [
        ('kind:"', ""),
        ("year:abc..def principle:", ""),
        ("<b>&amp; </i>", ""),
        ("🙂" * 200, ""),
        ("council", "not-a-number"),
        ("council", "-5"),
        ("council", "999999999999"),
        ("zzzqqqxxy", ""),
    ],
)
async def test_odd_input_is_always_answered(telegram: Harness, query: str, offset: str) -> None:
    answer = await ask_inline(telegram, query, offset)
    assert len(answer.results) <= 50
    assert len(answer.next_offset.encode()) <= 64
