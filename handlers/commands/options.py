"""Parsing of `--page N` style options that buttons append to a command's arguments."""

from __future__ import annotations

import re

_PAGE = re.compile(r"(?:^|\s)--page\s+(\d{1,4})\s*$")


def split_page(args: str) -> tuple[str, int]:
    """("food --page 3") -> ("food", 3); pages start at 1."""
    match = _PAGE.search(args)
    if match is None:
        return args.strip(), 1
    return args[: match.start()].strip(), max(1, int(match.group(1)))


def paging_buttons(command: str, args: str, page: int, pages: int) -> list[tuple[str, str]]:
    """(label, action) pairs for Previous / Next; none on a single page."""
    base = f"{command} {args}".strip()
    buttons = []
    if page > 1:
        buttons.append(("◀ Previous", f"{base} --page {page - 1}"))
    if page < pages:
        buttons.append(("Next ▶", f"{base} --page {page + 1}"))
    return buttons
