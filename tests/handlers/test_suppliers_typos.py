"""/suppliers is as tolerant of typos as /search: a misspelt word is corrected, and said so."""

from __future__ import annotations

from ccin_bridge.handlers.core import Bridge
from tests.conftest import ask


async def test_a_misspelt_supplier_word_is_corrected(bridge: Bridge) -> None:
    (reply,) = await bridge.handle(ask("suppliers", "soliciters"))
    text = reply.plain_text
    assert "Anthony Collins Solicitors" in text
    assert "DPS suppliers matching “solicitors” (1" in text
    assert "Showing results for “solicitors” (you typed “soliciters”)." in text


async def test_two_edits_are_corrected_and_correct_words_are_not_touched(bridge: Bridge) -> None:
    (two,) = await bridge.handle(ask("suppliers", "sollicitrs"))
    assert "Anthony Collins Solicitors" in two.plain_text
    (right,) = await bridge.handle(ask("suppliers", "solicitors"))
    assert "Anthony Collins Solicitors" in right.plain_text
    assert "you typed" not in right.plain_text


async def test_a_word_nothing_is_close_to_still_finds_nothing(bridge: Bridge) -> None:
    (reply,) = await bridge.handle(ask("suppliers", "zzyzxq"))
    assert "No DPS supplier matches “zzyzxq”." in reply.plain_text
    assert "you typed" not in reply.plain_text
