"""Render the neutral reply model as Telegram HTML, split into messages Telegram accepts.

Only `b`, `i`, `code` and `a href` are produced; every piece of data is escaped. Telegram
counts the 4096-character limit on the *visible* text (after its HTML parsing) in UTF-16 code
units, so that is what is measured here. Text is split before it is escaped and tags are
re-opened around each piece, so a split never lands inside a tag or an entity.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from html import escape
from typing import NamedTuple

from ccin_bridge.handlers.replies import (
    Block,
    BulletList,
    Button,
    Heading,
    Line,
    Paragraph,
    Reply,
    Span,
)

MAX_TEXT = 4096
MAX_BUTTONS = 100
BULLET = "• "
BLOCK_SEP = "\n\n"
LINE_SEP = "\n"
# Telegram rejects or drops links with other schemes; such a span is shown as plain text.
LINK_SCHEMES = ("http://", "https://", "tg://", "mailto:")
# A message must have text, so a reply that is only buttons still needs a line above them.
BUTTONS_ONLY_TEXT = "Please choose:"

Rows = tuple[tuple[Button, ...], ...]


class Chunk(NamedTuple):
    """One Telegram message: HTML text, and the button rows to attach (last chunk only)."""

    html: str
    rows: Rows = ()


class _Piece(NamedTuple):
    html: str
    size: int  # visible length in UTF-16 code units


def visible_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units of the text people see."""
    return len(text.encode("utf-16-le")) // 2


def render_reply(reply: Reply, *, limit: int = MAX_TEXT) -> list[Chunk]:
    """The messages to send for `reply`, in order; buttons go on the last one.

    An attachment is not rendered here: the adapter sends it as a document after the text.
    """
    if limit < 2:  # a character outside the BMP needs two units
        raise ValueError("limit must be at least 2")
    texts = _pack([_block_lines(b) for b in reply.blocks], limit)
    rows = cap_buttons(reply.buttons)
    if not texts and rows:
        texts = [escape(BUTTONS_ONLY_TEXT, quote=False)]
    chunks = [Chunk(t) for t in texts]
    if chunks and rows:
        chunks[-1] = Chunk(chunks[-1].html, rows)
    return chunks


def cap_buttons(rows: Rows, limit: int = MAX_BUTTONS) -> Rows:
    """Keep the first `limit` buttons (Telegram refuses a keyboard with more)."""
    kept: list[tuple[Button, ...]] = []
    left = limit
    for row in rows:
        if left <= 0:
            break
        row = row[:left]
        if row:
            kept.append(row)
            left -= len(row)
    return tuple(kept)


def render_spans(spans: Line) -> str:
    return "".join(render_span(s) for s in spans)


def render_span(span: Span) -> str:
    if not span.text:
        return ""
    body = escape(span.text, quote=False)
    if span.link and span.link.lower().startswith(LINK_SCHEMES):
        # Telegram lets bold and italic sit inside a link but nothing may contain code.
        return f'<a href="{escape(span.link, quote=True)}">{_emphasis(span, body)}</a>'
    if span.code:
        return f"<code>{body}</code>"
    return _emphasis(span, body)


def _emphasis(span: Span, body: str) -> str:
    if span.italic:
        body = f"<i>{body}</i>"
    if span.bold:
        body = f"<b>{body}</b>"
    return body


# --- blocks to lines ------------------------------------------------------------------------


def _block_lines(block: Block) -> list[Line]:
    """A block as lines of spans; a newline inside a span becomes a line break."""
    if isinstance(block, Heading):
        return _split_newlines((Span(block.text, bold=True),))
    if isinstance(block, Paragraph):
        return _split_newlines(block.spans)
    assert isinstance(block, BulletList)
    return [line for item in block.items for line in _split_newlines((Span(BULLET), *item))]


def _split_newlines(spans: Line) -> list[Line]:
    lines: list[list[Span]] = [[]]
    for span in spans:
        parts = span.text.split("\n")
        for index, part in enumerate(parts):
            if index:
                lines.append([])
            if part:
                lines[-1].append(replace(span, text=part))
    # A blank line would add nothing, and a message of only blank lines is refused.
    return [tuple(line) for line in lines if "".join(s.text for s in line).strip()]


# --- packing lines into messages ------------------------------------------------------------


def _pack(blocks: list[list[Line]], limit: int) -> list[str]:
    """Greedy packing that keeps a block together when it fits in a fresh message."""
    done: list[str] = []
    parts: list[str] = []
    size = 0

    def flush() -> None:
        nonlocal parts, size
        if parts:
            done.append("".join(parts))
        parts, size = [], 0

    for lines in blocks:
        pieces = [_render_line(line) for line in lines]
        if not pieces:
            continue
        block_size = sum(p.size for p in pieces) + len(LINE_SEP) * (len(pieces) - 1)
        if parts and size + len(BLOCK_SEP) + block_size > limit and block_size <= limit:
            flush()
        for index, piece in enumerate(pieces):
            sep = "" if not parts else (LINE_SEP if index else BLOCK_SEP)
            if size + len(sep) + piece.size <= limit:
                parts.append(sep + piece.html)
                size += len(sep) + piece.size
            elif piece.size <= limit:
                flush()
                parts, size = [piece.html], piece.size
            else:  # one line longer than a whole message
                flush()
                *full, last = _split_line(lines[index], limit)
                done.extend(p.html for p in full)
                parts, size = [last.html], last.size
    flush()
    return done


def _render_line(line: Line) -> _Piece:
    return _Piece(render_spans(line), sum(visible_length(s.text) for s in line))


def _split_line(line: Line, limit: int) -> list[_Piece]:
    """Cut one over-long line into pieces of at most `limit`, preferring spaces.

    The whitespace at each cut is dropped, as a line break would replace it.
    """
    pieces: list[_Piece] = []
    current: list[Span] = []
    room = limit

    def flush() -> None:
        nonlocal current, room
        while current and not current[-1].text.rstrip():
            current.pop()
        if current:
            current[-1] = replace(current[-1], text=current[-1].text.rstrip())
            pieces.append(_render_line(tuple(current)))
        current, room = [], limit

    for span in line:
        rest = span.text
        while rest:
            if pieces and not current:
                rest = rest.lstrip()
                if not rest:
                    break
            if visible_length(rest) <= room:
                current.append(replace(span, text=rest))
                room -= visible_length(rest)
                break
            cut = _cut_point(rest, room, allow_hard=not current)
            if cut == 0:  # no space to break at: move the word to the next message
                flush()
                continue
            current.append(replace(span, text=rest[:cut]))
            rest = rest[cut:]
            flush()
    flush()
    return pieces


def _cut_point(text: str, room: int, *, allow_hard: bool) -> int:
    """Where to cut `text` so that its head fits in `room`: at a space if there is one."""
    end = _fit(text, room)
    space = max(text.rfind(" ", 0, end + 1), text.rfind("\u00a0", 0, end + 1))
    if space > 0:
        return space
    if not allow_hard:
        return 0
    while end > 1 and _joins_previous(text, end):
        end -= 1
    return end


def _fit(text: str, room: int) -> int:
    """The longest prefix (in code points) whose UTF-16 length is at most `room`."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > room:
            return index
    return len(text)


def _joins_previous(text: str, index: int) -> bool:
    """True if a cut before text[index] would break a character sequence people see as one."""
    char, before = text[index], text[index - 1]
    return (
        unicodedata.combining(char) != 0
        or char in "\u200d\ufe0e\ufe0f"
        or before == "\u200d"
        or 0x1F3FB <= ord(char) <= 0x1F3FF  # skin-tone modifiers
    )
