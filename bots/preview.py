"""Pieces the adapters' previews share (bots/<platform>/preview.py): a reply drawn as the
platform will show it, as HTML for the admin console. Every piece of text is escaped here;
only links that a browser may follow (http, https, mailto) become links."""

from __future__ import annotations

import re
from collections.abc import Iterable

from markupsafe import Markup, escape

# Both platforms make a link of a bare web address in a message's text, as browsers do not.
BARE_URL = re.compile(r"\bhttps?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
FOLLOWED = ("http://", "https://", "mailto:")


def link(url: str, label: Markup | str) -> Markup:
    if not url.lower().startswith(FOLLOWED):
        return escape(label)  # a tg:// link, say: its words, which the page cannot open
    return Markup('<a href="%s" rel="noreferrer">%s</a>') % (url, label)


def text(value: str, *, links: bool = True) -> Markup:
    """Plain text as a message shows it: line breaks kept, bare web addresses linked."""
    parts: list[Markup] = []
    start = 0
    for found in BARE_URL.finditer(value) if links else ():
        parts.append(escape(value[start : found.start()]))
        parts.append(link(found.group(), found.group()))
        start = found.end()
    parts.append(escape(value[start:]))
    return Markup("").join(parts).replace("\n", Markup("<br>"))


def buttons(rows: Iterable[Iterable[str]]) -> Markup:
    """Rows of button labels, drawn as buttons that cannot be pressed (a preview's)."""
    drawn = [
        Markup('<div class="preview-buttons">%s</div>')
        % Markup("").join(Markup('<span class="preview-button">%s</span>') % b for b in row)
        for row in rows
    ]
    return Markup("").join(drawn)
