"""A posted message's styled text as the core's blocks, whichever platform it came from.

Adapters read their platform's formatting into spans (bold, italic, code, links); this splits
them into paragraphs at blank lines and makes a run of lines that start with a bullet
("•", "-", "*") a list, so each platform renders lists its own way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from ccin_bridge.handlers.replies import Block, BulletList, Line, Paragraph, Span

_BULLET = re.compile(r"^\s*(?:[•◦▪‣-]|\*(?=\s))\s+")


def _lines(spans: Iterable[Span]) -> list[list[Span]]:
    lines: list[list[Span]] = [[]]
    for span in spans:
        parts = span.text.split("\n")
        for n, part in enumerate(parts):
            if n:
                lines.append([])
            if part:
                lines[-1].append(replace(span, text=part))
    return lines


def _text(line: list[Span]) -> str:
    return "".join(s.text for s in line)


def _unbulleted(line: list[Span]) -> Line:
    marker = _BULLET.match(_text(line))
    cut = marker.end() if marker else 0
    out: list[Span] = []
    for span in line:
        if cut >= len(span.text):
            cut -= len(span.text)
            continue
        out.append(replace(span, text=span.text[cut:]) if cut else span)
        cut = 0
    return tuple(out)


def to_blocks(spans: Iterable[Span]) -> tuple[Block, ...]:
    blocks: list[Block] = []
    paragraph: list[Span] = []
    items: list[Line] = []

    def close_paragraph() -> None:
        if paragraph:
            blocks.append(Paragraph(tuple(paragraph)))
            paragraph.clear()

    def close_list() -> None:
        if items:
            blocks.append(BulletList(tuple(items)))
            items.clear()

    for line in _lines(spans):
        text = _text(line)
        if not text.strip():
            close_paragraph()
            close_list()
        elif _BULLET.match(text):
            close_paragraph()
            items.append(_unbulleted(line))
        else:
            close_list()
            if paragraph:
                paragraph.append(Span("\n"))
            paragraph.extend(line)
    close_paragraph()
    close_list()
    return tuple(blocks)
