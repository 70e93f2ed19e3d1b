"""Text helpers shared by the store's look-ups: tokenising and safe LIKE patterns."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are as at be by for from in into is it of on or the to with".split()  # noqa: SIM905
)


class _Marks(dict[int, int | None]):
    """str.translate table dropping combining marks; filled lazily, so lookups stay in C."""

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.combining(chr(code)) else code
        self[code] = value
        return value


_MARKS = _Marks()
_INNER_HYPHEN = re.compile(r"(?<=\w)[-‐‑–](?=\w)")


def fold(text: str) -> str:
    """Lower-case and strip accents and hyphens, so `Co-operative` matches `cooperative`."""
    if text.isascii():  # the common case, and a hot path when indexing
        return _INNER_HYPHEN.sub("", text.lower())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    without_marks = decomposed if decomposed.isascii() else decomposed.translate(_MARKS)
    return _INNER_HYPHEN.sub("", without_marks)


def words(query: str) -> list[str]:
    """The query's searchable words, folded, stopwords dropped, duplicates removed."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(fold(query)):
        word = match.group(0)
        if word not in STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)


def word_set(folded_text: str) -> set[str]:
    """The distinct words of text that is already folded (no stopword removal)."""
    return set(_WORD.findall(folded_text))


def phrase_words(text: str) -> list[str]:
    """Every word of a quoted phrase, in order, stopwords kept (`cost of living`)."""
    return [m.group(0) for m in _WORD.finditer(fold(text))]


def like_pattern(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def stem(word: str) -> str:
    """A light English stem (plural and -ing/-ed endings), enough for simple relevance."""
    for suffix in ("ings", "ing", "ies", "es", "ed", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def normalise_url(value: str | None) -> str | None:
    """Seeds and spreadsheets print links without a scheme (`bit.ly/CCIN-x`); chats need one."""
    if not value:
        return None
    return value if "://" in value else f"https://{value}"
