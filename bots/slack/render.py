"""Render the neutral reply model as Slack Block Kit messages, each with a fallback `text`.

Every piece of data is escaped for mrkdwn (`& < >`), and the output stays inside Slack's limits:
a reply too big for one message becomes several, long text is split between spans or, failing
that, between characters, but never inside an escape or a link. Pure: no I/O, no Slack SDK.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

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

MAX_BLOCKS = 50  # per message
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTIONS = 25  # elements per actions block
MAX_FALLBACK_TEXT = 3000  # Slack allows ~40k, but the fallback only feeds notifications
ACTION_PREFIX = "ccin:"  # every button's action_id starts with it; the adapter listens for it
BULLET = "• "

SlackBlock = dict[str, Any]


@dataclass(frozen=True)
class SlackMessage:
    """One `chat.postMessage`-sized message: escaped mrkdwn fallback text and its blocks."""

    text: str
    blocks: tuple[SlackBlock, ...]


def slack_len(value: str) -> int:
    """Length in UTF-16 code units: never fewer than characters, so limits hold either way."""
    return len(value.encode("utf-16-le")) // 2


def escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_reply(reply: Reply, payloads: Mapping[str, str]) -> list[SlackMessage]:
    """The messages for one reply. `payloads` maps each button's action to its button value."""
    blocks = reply_blocks(reply, payloads, ACTION_PREFIX)
    return [
        SlackMessage(_fallback(chunk), tuple(chunk))
        for chunk in (blocks[i : i + MAX_BLOCKS] for i in range(0, len(blocks), MAX_BLOCKS))
    ]


def reply_blocks(
    reply: Reply, payloads: Mapping[str, str], prefix: str, first: int = 0
) -> list[SlackBlock]:
    """One reply's blocks, unsplit, its buttons' action_ids numbered from `first`."""
    blocks = [b for block in reply.blocks for b in _render_block(block)]
    blocks.extend(_actions(reply.buttons, payloads, prefix, first))
    return blocks


def view_blocks(
    replies: Sequence[Reply], payloads: Mapping[str, str], prefix: str, limit: int, more: str
) -> list[SlackBlock]:
    """Replies as the blocks of one Home tab or modal: a divider between replies, at most
    `limit` blocks; `more` (mrkdwn) closes a view that had to be cut short."""
    blocks: list[SlackBlock] = []
    for reply in replies:
        if blocks:
            blocks.append({"type": "divider"})
        blocks.extend(reply_blocks(reply, payloads, prefix, _buttons_in(blocks)))
    if len(blocks) > limit:
        blocks = blocks[: limit - 1]
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    return blocks


def _buttons_in(blocks: Sequence[SlackBlock]) -> int:
    return sum(len(b["elements"]) for b in blocks if b["type"] == "actions")


# --- text blocks ------------------------------------------------------------------------------


def _render_block(block: Block) -> list[SlackBlock]:
    if isinstance(block, Heading):
        heading = " ".join(block.text.split())
        if not heading:
            return []
        if slack_len(heading) <= MAX_HEADER_TEXT:
            return [{"type": "header", "text": {"type": "plain_text", "text": heading}}]
        return _sections(_mrkdwn_lines([(Span(heading, bold=True),)]))
    if isinstance(block, Paragraph):
        return _sections(_mrkdwn_lines([block.spans]))
    assert isinstance(block, BulletList)
    return _sections(_mrkdwn_lines(block.items, prefix=BULLET))


def _sections(texts: Iterable[str]) -> list[SlackBlock]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": t}} for t in texts]


def _mrkdwn_lines(lines: Sequence[Line], prefix: str = "") -> list[str]:
    """Escaped mrkdwn for lines of spans, packed into as few texts of at most 3000 as possible."""
    units: list[str] = []
    for line in lines:
        pieces = [piece for span in line for piece in _span_pieces(span)]
        if "".join(pieces).strip():  # an empty bullet would be a lone "•"
            units.extend(_pack([prefix, *pieces], "", MAX_SECTION_TEXT))
    return [text for text in _pack(units, "\n", MAX_SECTION_TEXT) if text.strip()]


def _pack(units: Iterable[str], sep: str, limit: int) -> list[str]:
    """Join units greedily into texts within `limit`; each unit must already fit on its own."""
    packed: list[list[str]] = []
    used = 0
    for unit in units:
        if not unit:
            continue
        size = slack_len(unit)
        if packed and used + slack_len(sep) + size <= limit:
            packed[-1].append(unit)
            used += slack_len(sep) + size
        else:
            packed.append([unit])
            used = size
    return [sep.join(group) for group in packed]


def _span_pieces(span: Span) -> list[str]:
    """A span as one or more mrkdwn pieces, each within a section's limit."""
    marks = _marks(span)
    if span.link:
        url = safe_url(span.link)
        label = span.text.strip() or span.link
        if url is not None:
            token = f"<{url}|{escape(label)}>"
            if marks != "`":
                token = marks + token + marks[::-1]
            if slack_len(token) <= MAX_SECTION_TEXT:
                return [token]
        # Not a link Slack would open (or absurdly long): keep the words, lose the link.
        span = Span(label, bold=span.bold, italic=span.italic, code=span.code)
    budget = MAX_SECTION_TEXT - 2 * len(marks)
    return [_emphasise(chunk, marks) for chunk in _split_text(span.text, budget)]


def _marks(span: Span) -> str:
    if span.code:
        return "`"
    return ("*" if span.bold else "") + ("_" if span.italic else "")


def _emphasise(text: str, marks: str) -> str:
    if marks == "`":
        text = text.replace("`", "ˋ")  # mrkdwn cannot escape a backtick inside code
    # Slack only honours emphasis that hugs the words, so whitespace goes outside the marks.
    core = text.strip()
    if not marks or not core:
        return escape(text)
    start = text.index(core)
    lead, trail = text[:start], text[start + len(core) :]
    return escape(lead) + marks + escape(core) + marks[::-1] + escape(trail)


def _split_text(text: str, budget: int) -> list[str]:
    """Cut raw text so each piece, once escaped, fits `budget`; prefer cutting after a space."""
    if slack_len(escape(text)) <= budget:
        return [text] if text else []
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end, used, space = start, 0, -1
        while end < len(text):
            cost = _escaped_len(text[end])
            if used + cost > budget:
                break
            if text[end].isspace():
                space = end
            used += cost
            end += 1
        if end < len(text) and space > start + (end - start) // 2:
            end = space + 1
        pieces.append(text[start:end])
        start = end
    return pieces


def _escaped_len(ch: str) -> int:
    if ch == "&":
        return 5
    if ch in "<>":
        return 4
    return 2 if ord(ch) > 0xFFFF else 1


def safe_url(url: str) -> str | None:
    """The URL escaped for a `<url|label>` token, or None if Slack should not link it."""
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return None
    scheme = urlsplit(url).scheme.casefold()
    if not scheme:
        # Seed data has bare hosts such as `bit.ly/x`; Slack only links absolute URLs.
        host = url.split("/", 1)[0]
        if "." not in host or ":" in host:
            return None
        url = "https://" + url
    elif scheme not in ("http", "https", "mailto"):
        return None
    # `|` would end the URL part of the token early.
    return escape(url).replace("|", "%7C")


# --- buttons and fallback text ----------------------------------------------------------------


def _actions(
    rows: Sequence[Sequence[Button]], payloads: Mapping[str, str], prefix: str, first: int = 0
) -> list[SlackBlock]:
    blocks: list[SlackBlock] = []
    number = first
    for row in rows:
        for start in range(0, len(row), MAX_ACTIONS):
            elements = []
            for button in row[start : start + MAX_ACTIONS]:
                value = payloads[button.action]
                if len(value) > MAX_BUTTON_VALUE:
                    raise ValueError(f"button payload is {len(value)} characters (max 2000)")
                elements.append(
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": button_label(button.label)},
                        # Unique per message; the payload, not the id, says what to do.
                        "action_id": f"{prefix}{number}",
                        "value": value,
                    }
                )
                number += 1
            blocks.append({"type": "actions", "elements": elements})
    return blocks


def button_label(label: str) -> str:
    label = " ".join(label.split()) or "…"
    if slack_len(label) <= MAX_BUTTON_TEXT:
        return label
    while slack_len(label + "…") > MAX_BUTTON_TEXT:
        label = label[:-1]
    return label.rstrip() + "…"


def _fallback(blocks: Sequence[SlackBlock]) -> str:
    """Notification text: whole block texts, as many as fit, so no escape or link is cut."""
    texts: list[str] = []
    for block in blocks:
        if block["type"] == "header":
            texts.append(escape(block["text"]["text"]))
        elif block["type"] == "section":
            texts.append(block["text"]["text"])
    text = _pack(texts, "\n", MAX_FALLBACK_TEXT)
    if text:
        return text[0]
    labels = [e["text"]["text"] for b in blocks for e in b.get("elements", ())]
    return escape(" · ".join(labels)) or "…"
