"""Typo tolerance: correct a query word to the index's vocabulary, up to two edits (SymSpell).

`Speller` holds the vocabulary (document counts, sorted words) that search reads on every
query; its `Corrector` is symspellpy's index of every vocabulary word with its one- and
two-letter deletions, so a typo is found in a handful of dictionary look-ups. A word that is
itself ordinary English (symspellpy's frequency dictionary of 82,765 words) is never
"corrected" into another, even when the corpus lacks it: `near` stays `near`, not `year`.

Both are built off the event loop: the vocabulary in a worker thread that the search awaits
(it is quick), the corrector in a background thread when the vocabulary is large (seconds at
100,000 documents). Until a corrector is ready, search corrects nothing (or with the previous
vocabulary's corrector, which is only a little stale); a failed build is logged, never raised.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import re
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cache
from importlib import resources

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from symspellpy import SymSpell, Verbosity

from ccin_bridge.store.models import SearchTerm
from ccin_bridge.store.text import STOPWORDS

log = logging.getLogger(__name__)

MIN_LENGTH = 4  # shorter words have too many neighbours to guess safely
TWO_EDITS_FROM = 5  # a typed word this long may be two edits away; a 4-letter one only one
MAX_EDITS = 2
PREFIX_LENGTH = 7  # SymSpell indexes the deletions of each word's first 7 letters
REFRESH_SECONDS = 30.0
# Up to this many words the corrector is built with the vocabulary, before the search goes on
# (well under a second; the network's real data has about 500 words); beyond, in the
# background.
BUILD_WAITED = 5_000
ENGLISH_FILE = "frequency_dictionary_en_82_765.txt"


def distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions)."""
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


@cache
def english_words() -> frozenset[str]:
    """Ordinary English words (lower case), from the dictionary symspellpy ships."""
    listing = resources.files("symspellpy").joinpath(ENGLISH_FILE).read_text(encoding="utf-8")
    return frozenset(line.split(" ", 1)[0] for line in listing.splitlines() if line)


class Corrector:
    """SymSpell over the vocabulary: the commonest word fewest edits away from a typo."""

    def __init__(self, vocabulary: Mapping[str, int]) -> None:
        self.english = english_words()
        self._symspell = SymSpell(
            max_dictionary_edit_distance=MAX_EDITS, prefix_length=PREFIX_LENGTH
        )
        for term, docs in vocabulary.items():
            if len(term) >= MIN_LENGTH - 1 and docs > 0:
                self._symspell.create_dictionary_entry(term, docs)

    def correct(self, word: str) -> str | None:
        """The correction of a word that is not in the vocabulary, if one is close enough."""
        if len(word) < MIN_LENGTH or word.isdigit() or word in self.english:
            return None
        limit = MAX_EDITS if len(word) >= TWO_EDITS_FROM else 1
        found = self._symspell.lookup(word, Verbosity.CLOSEST, max_edit_distance=limit)
        best = min(((s.distance, -s.count, s.term) for s in found), default=None)
        return str(best[2]) if best is not None and best[2] != word else None


class Speller:
    def __init__(self, vocabulary: dict[str, int], corrector: Corrector | None = None) -> None:
        self.counts = vocabulary
        self.most = max(vocabulary.values(), default=1)  # the commonest word's document count
        self.sorted = sorted(vocabulary)
        # None until built (see the module doc); set once, from the building thread.
        self.corrector = corrector
        self._containing: dict[str, frozenset[str]] = {}

    def containing(self, word: str) -> frozenset[str]:
        """Every indexed word (apostrophe parts split, as FTS5 splits them) containing `word`.

        Empty when nothing contains it; search then does not narrow on it, which stays right
        even if this vocabulary is a few seconds older than the index.
        """
        found = self._containing.get(word)
        if found is None:
            parts = {
                part
                for term in self.sorted
                if word in term
                for part in re.split("['’]", term)
                if word in part
            }
            if parts:
                parts |= {w for w in STOPWORDS if word in w} | {word}
            if len(self._containing) >= 1024:  # user input: keep the cache bounded
                self._containing.clear()
            found = self._containing[word] = frozenset(parts)
        return found

    def has(self, word: str) -> bool:
        """The exact word is in the vocabulary."""
        return word in self.counts

    def prefixed(self, prefix: str, cap: int = 10_000_000) -> int:
        """The document counts of the vocabulary words starting with `prefix`, summed (to cap)."""
        total = 0
        at = bisect.bisect_left(self.sorted, prefix)
        while at < len(self.sorted) and self.sorted[at].startswith(prefix) and total < cap:
            total += self.counts[self.sorted[at]]
            at += 1
        return total

    def known(self, word: str) -> bool:
        """In the vocabulary, or the start of a word in it (prefix search will find it)."""
        if word in self.counts:
            return True
        at = bisect.bisect_left(self.sorted, word)
        return at < len(self.sorted) and self.sorted[at].startswith(word)

    def correct(self, word: str) -> str | None:
        """A vocabulary word for a typo; None for a known word, or while no corrector is built."""
        corrector = self.corrector
        if corrector is None or len(word) < MIN_LENGTH or self.known(word):
            return None
        return corrector.correct(word)


def build(vocabulary: dict[str, int]) -> Speller:
    """A speller with its corrector, built now (benchmarks and tools; search uses `speller_for`)."""
    return Speller(vocabulary, Corrector(vocabulary))


@dataclass
class _Cached:
    signature: tuple[int, int] | None  # None: rebuild at the next look
    speller: Speller
    checked_at: float


_cache: dict[str, _Cached] = {}
# Corrector builds in the background: at most one thread per database, always building for
# the newest speller still waiting for one.
_lock = threading.Lock()
_waiting: dict[str, Speller] = {}
_building: dict[str, Future[None]] = {}


def forget(cache_key: str) -> None:
    """Rebuild the speller at the next search: the vocabulary was rewritten in this process.
    The old corrector serves until the new one is ready."""
    cached = _cache.get(cache_key)
    if cached is not None:
        cached.signature = None


def loaded(cache_key: str) -> Speller | None:
    """This database's speller if one is loaded in this process (whatever its age)."""
    cached = _cache.get(cache_key)
    return cached.speller if cached is not None else None


async def ready(cache_key: str) -> None:
    """Wait for this database's background corrector build, if one is under way."""
    with _lock:
        building = _building.get(cache_key)
    if building is not None:
        await asyncio.wrap_future(building)


def _build_in_background(cache_key: str, speller: Speller) -> None:
    with _lock:
        _waiting[cache_key] = speller
        if cache_key in _building:
            return  # the running thread takes this speller next
        done: Future[None] = Future()
        _building[cache_key] = done
    # A daemon thread, not an executor's: a build under way must not hold up the process's exit.
    worker = threading.Thread(
        target=_build_waiting, args=(cache_key, done), name="speller", daemon=True
    )
    worker.start()


def _build_waiting(cache_key: str, done: Future[None]) -> None:
    try:
        while True:
            with _lock:
                speller = _waiting.pop(cache_key, None)
                if speller is None:
                    del _building[cache_key]
                    return
            started = time.monotonic()
            try:
                speller.corrector = Corrector(speller.counts)
            except Exception:
                log.exception("could not build the spelling corrector; searches go uncorrected")
                continue
            log.info(
                "spelling corrector ready: %d words in %.1f s",
                len(speller.counts),
                time.monotonic() - started,
            )
    finally:
        done.set_result(None)


def _make(vocabulary: dict[str, int], previous: Speller | None) -> tuple[Speller, bool]:
    """The speller for a vocabulary (in a worker thread), and whether its corrector is still
    to be built: with its own if that is quick to build, else the previous one's meanwhile."""
    if len(vocabulary) <= BUILD_WAITED:
        try:
            return build(vocabulary), False
        except Exception:
            log.exception("could not build the spelling corrector; searches go uncorrected")
            return Speller(vocabulary), False
    return Speller(vocabulary, previous.corrector if previous is not None else None), True


async def speller_for(session: AsyncSession, cache_key: str) -> Speller:
    """The speller for this database, rebuilt when the vocabulary changes (checked every 30 s)."""
    cached = _cache.get(cache_key)
    now = time.monotonic()
    if cached is not None and cached.signature and now - cached.checked_at < REFRESH_SECONDS:
        return cached.speller
    row = (
        await session.execute(select(func.count(), func.coalesce(func.sum(SearchTerm.docs), 0)))
    ).one()
    signature = (int(row[0]), int(row[1]))
    if cached is None or cached.signature != signature:
        terms = await session.execute(select(SearchTerm.term, SearchTerm.docs))
        vocabulary = {t: int(d) for t, d in terms}
        previous = cached.speller if cached is not None else None
        speller, later = await asyncio.to_thread(_make, vocabulary, previous)
        if later:
            _build_in_background(cache_key, speller)
        cached = _Cached(signature, speller, now)
        _cache[cache_key] = cached
    cached.checked_at = now
    return cached.speller
