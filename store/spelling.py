"""Typo tolerance: correct a query word to the index's vocabulary (SymSpell, edit distance 1-2).

Every vocabulary word and each of its one-letter deletions point back to the word; a query word
looks up itself and its own deletions, which finds insertions, deletions, substitutions and
transpositions in a handful of dictionary look-ups instead of a scan of the vocabulary.
"""

from __future__ import annotations

import bisect
import re
import time
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import SearchTerm
from ccin_bridge.store.text import STOPWORDS

MIN_LENGTH = 4  # shorter words have too many neighbours to guess safely
REFRESH_SECONDS = 30.0


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


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


class Speller:
    def __init__(self, vocabulary: dict[str, int]) -> None:
        self.counts = vocabulary
        self.most = max(vocabulary.values(), default=1)  # the commonest word's document count
        self.sorted = sorted(vocabulary)
        self.index: dict[str, list[str]] = {}
        self._containing: dict[str, frozenset[str]] = {}
        for term in vocabulary:
            if len(term) >= MIN_LENGTH - 1:
                for key in _deletes(term) | {term}:
                    self.index.setdefault(key, []).append(term)

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
        if len(word) < MIN_LENGTH or word.isdigit() or self.known(word):
            return None
        limit = 1 if len(word) < 7 else 2
        best: tuple[int, int, str] | None = None
        for key in _deletes(word) | {word}:
            for term in self.index.get(key, ()):
                d = distance(word, term)
                if d <= limit:
                    candidate = (d, -self.counts[term], term)
                    best = candidate if best is None or candidate < best else best
        return best[2] if best else None


@dataclass
class _Cached:
    signature: tuple[int, int]
    speller: Speller
    checked_at: float


_cache: dict[str, _Cached] = {}


def forget(cache_key: str) -> None:
    """Drop the cached speller after the vocabulary was rewritten in this process."""
    _cache.pop(cache_key, None)


async def speller_for(session: AsyncSession, cache_key: str) -> Speller:
    """The speller for this database, rebuilt when the vocabulary changes (checked every 30 s)."""
    cached = _cache.get(cache_key)
    now = time.monotonic()
    if cached is not None and now - cached.checked_at < REFRESH_SECONDS:
        return cached.speller
    row = (
        await session.execute(select(func.count(), func.coalesce(func.sum(SearchTerm.docs), 0)))
    ).one()
    signature = (int(row[0]), int(row[1]))
    if cached is None or cached.signature != signature:
        terms = await session.execute(select(SearchTerm.term, SearchTerm.docs))
        cached = _Cached(signature, Speller({t: int(d) for t, d in terms}), now)
        _cache[cache_key] = cached
    cached.checked_at = now
    return cached.speller
