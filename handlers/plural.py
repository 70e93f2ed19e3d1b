"""Counts in user-visible text: "1 member", "2 members", never a bracketed "s"."""

from __future__ import annotations


def plural(count: int, singular: str, many: str | None = None) -> str:
    """`count` and the noun in the number it takes; `many` for an irregular plural
    ("1 person", "3 people"); otherwise the singular with an "s"."""
    noun = singular if count == 1 else (many if many is not None else singular + "s")
    return f"{count:,} {noun}"
