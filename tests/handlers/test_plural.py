"""Counts read as English: "1 member", "2 members", and nowhere "member(s)"."""

from __future__ import annotations

import re
import tokenize
from pathlib import Path

from ccin_bridge.handlers.plural import plural

PACKAGE = Path(__file__).resolve().parents[2]
ROOMS = ("bots", "handlers", "store", "scheduler", "bridge")


def test_plural_agrees_with_the_count() -> None:
    assert plural(1, "member") == "1 member"
    assert plural(0, "member") == "0 members"
    assert plural(2, "person", "people") == "2 people"
    assert plural(1_234, "chat") == "1,234 chats"


def test_no_user_visible_text_says_s_in_brackets() -> None:
    """No string in the code holds `word(s)`, but for log lines (their `%d chat(s)` are for
    operators) and `http(s)`."""
    found = []
    for room in ROOMS:
        for path in (PACKAGE / room).rglob("*.py"):
            with path.open("rb") as source:
                for token in tokenize.tokenize(source.readline):
                    if token.type != tokenize.STRING or "%d" in token.string:
                        continue
                    if re.search(r"[a-z]\(s\)", token.string.replace("http(s)", "")):
                        found.append(f"{path.relative_to(PACKAGE)}:{token.start[0]}")
    assert found == []
