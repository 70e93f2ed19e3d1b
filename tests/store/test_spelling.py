"""Typo correction: up to two edits, never an English word into another, built off the loop."""

from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store import search, spelling
from ccin_bridge.store.db import Database


def _key(session: AsyncSession) -> str:
    return str(session.get_bind().engine.url)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("houseeing", "housing"),  # two insertions
        ("huosnig", "housing"),  # two transpositions
        ("soliciters", "solicitors"),  # one substitution
        ("sustianabel", "sustainable"),  # a transposition and a swap of letters
    ],
)
async def test_one_and_two_edit_typos_are_corrected(
    db: Database, typed: str, expected: str
) -> None:
    async with db.read() as session:
        page = await search.search(session, typed)
    assert page.corrections == {typed: expected}
    assert page.total > 0


@pytest.mark.parametrize("word", ["near", "cause", "hosing", "sole"])
async def test_an_english_word_is_never_corrected_into_another(db: Database, word: str) -> None:
    # Not in the network's data, but each is one edit from a word that is (year, case, ...).
    async with db.read() as session:
        speller = await spelling.speller_for(session, _key(session))
        page = await search.search(session, word)
    assert not speller.has(word)
    assert page.corrections == {}


def test_short_words_are_corrected_by_one_edit_only() -> None:
    speller = spelling.build({"food": 3, "housing": 2, "year": 9})
    assert speller.correct("fxod") == "food"
    assert speller.correct("fxxd") is None  # four letters, two edits: too far to guess
    assert speller.correct("fod") is None  # too short to guess at all
    assert speller.correct("hosuign") == "housing"
    assert speller.correct("yeer") == "year"
    assert speller.correct("hous") is None  # the start of a word: prefix search finds it


def test_the_commonest_of_the_closest_words_wins() -> None:
    speller = spelling.build({"housing": 1, "rousing": 50, "carting": 7, "parting": 50})
    assert speller.correct("houzing") == "housing"  # one edit beats two
    assert speller.correct("xarting") == "parting"  # both one edit: the commoner


class _Held(spelling.Corrector):
    """The real corrector, whose build waits for the test and notes the thread it ran in."""

    gate = threading.Event()
    threads: list[threading.Thread] = []  # noqa: RUF012 (a class-wide record)

    def __init__(self, vocabulary: dict[str, int]) -> None:
        self.threads.append(threading.current_thread())
        self.gate.wait(timeout=120)
        super().__init__(vocabulary)


async def test_a_large_vocabulary_is_built_in_the_background(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spelling, "Corrector", _Held)
    monkeypatch.setattr(spelling, "BUILD_WAITED", 0)  # every vocabulary counts as large
    _Held.gate.clear()
    _Held.threads.clear()
    async with sqlite_db.read() as session:
        waiting = await search.search(session, "houseeing")  # the build has not finished
        assert waiting.corrections == {} and waiting.total == 0
        assert (await search.search(session, "housing")).total > 0  # search works meanwhile
        _Held.gate.set()
        await spelling.ready(_key(session))
        ready = await search.search(session, "houseeing")
    assert ready.corrections == {"houseeing": "housing"} and ready.total > 0
    [thread] = _Held.threads
    assert thread is not threading.main_thread()  # not the event loop's thread


async def test_a_small_vocabulary_is_built_off_the_loop_before_the_first_search(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spelling, "Corrector", _Held)
    _Held.gate.set()
    _Held.threads.clear()
    async with sqlite_db.read() as session:
        page = await search.search(session, "houseeing")
    assert page.corrections == {"houseeing": "housing"}
    [thread] = _Held.threads
    assert thread is not threading.main_thread()


async def test_a_failed_build_means_no_corrections_not_a_crash(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def missing() -> frozenset[str]:
        raise OSError("dictionary file gone")

    monkeypatch.setattr(spelling, "english_words", missing)
    async with sqlite_db.read() as session:
        typo = await search.search(session, "houseeing")
        plain = await search.search(session, "housing")
    assert typo.corrections == {} and plain.total > 0
    [record] = [r for r in caplog.records if r.name == "ccin_bridge.store.spelling"]
    assert record.levelno == logging.ERROR and "uncorrected" in record.getMessage()


async def test_a_new_vocabulary_keeps_the_old_corrector_until_its_own_is_ready(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with sqlite_db.read() as session:
        key = _key(session)
        first = await spelling.speller_for(session, key)
        assert first.corrector is not None
        monkeypatch.setattr(spelling, "Corrector", _Held)
        monkeypatch.setattr(spelling, "BUILD_WAITED", 0)
        _Held.gate.clear()
        spelling.forget(key)
        second = await spelling.speller_for(session, key)
        assert second is not first and second.corrector is first.corrector
        _Held.gate.set()
        await spelling.ready(key)
    assert isinstance(second.corrector, _Held)
