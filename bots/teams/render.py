"""Render the neutral reply model as Adaptive Cards for Teams, each with a text fallback.

Text goes into RichTextBlocks of TextRuns, which Teams shows as they are, never parsed as
markdown: nothing a person or a record wrote can turn into formatting or a link (links are
only the reply's own, as a TextRun's Action.OpenUrl, and only http(s)). Buttons are
Action.Submit whose data carries the core's payload; a button that takes text gets an
Input.Text beside it. A reply too large for one Teams message (about 28 KB of JSON, of which
we use at most MAX_CARD_BYTES) becomes several cards; the buttons go on the last. Pure: no
I/O, no SDK.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ccin_bridge.handlers.replies import BulletList, Button, Heading, Line, Paragraph, Reply, Span

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.5"  # what Teams' desktop, web and mobile clients render
MAX_CARD_BYTES = 24_000  # Teams refuses a message over ~28 KB; headroom for the envelope
MAX_RUN_TEXT = 2_000  # one TextRun; longer text is split (between characters if need be)
MAX_RUN_BYTES = 4_000
MAX_BLOCK_BYTES = 8_000  # one RichTextBlock: a long paragraph spans several, each fits a card
MAX_BUTTON_TITLE = 60
MAX_FALLBACK = 1_000  # characters; at most 12 KB on the wire
MAX_ACTIONS_PER_SET = 6  # Teams shows at most six buttons side by side
PAYLOAD_KEY = "ccin"  # the key of an Action.Submit's data the adapter reads back
INPUT_KEY = "ccin_input"  # names, in a button's data, the Input.Text whose text goes with it
TYPED_PREFIX = "ccin_typed_"  # the ids of those inputs, one per button that takes text
BULLET = "• "

Element = dict[str, Any]


@dataclass(frozen=True)
class TeamsMessage:
    """One Teams message: its fallback text and one Adaptive Card."""

    text: str
    card: dict[str, Any]


def card_bytes(card: Mapping[str, Any]) -> int:
    """Its size as the SDK sends it (JSON with non-ASCII escaped: an emoji costs 12 bytes)."""
    return len(json.dumps(card, separators=(",", ":")).encode())


def render_reply(reply: Reply, payloads: Mapping[str, str]) -> list[TeamsMessage]:
    """The messages of one reply; `payloads` maps each button's action to its Submit data."""
    elements = [e for block in reply.blocks for e in _block(block)]
    actions = _action_sets(reply.buttons, payloads)
    chunks: list[list[Element]] = [[]]
    for element in elements:
        if chunks[-1] and _size([*chunks[-1], element]) > MAX_CARD_BYTES:
            chunks.append([])
        chunks[-1].append(element)
    if actions:
        if chunks[-1] and _size(chunks[-1] + actions) > MAX_CARD_BYTES:
            chunks.append([])
        chunks[-1].extend(actions)
    return [
        TeamsMessage(_fallback(chunk), _card(chunk, _fallback(chunk))) for chunk in chunks if chunk
    ]


def _size(body: Sequence[Element]) -> int:
    return card_bytes(_card(body, _fallback(body)))


def _card(body: Sequence[Element], fallback: str = "") -> dict[str, Any]:
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": list(body),
    }
    if fallback:
        card["fallbackText"] = fallback
    return card


# --- text -------------------------------------------------------------------------------------


def _block(block: Heading | Paragraph | BulletList) -> list[Element]:
    if isinstance(block, Heading):
        heading = " ".join(block.text.split())
        if not heading:
            return []
        runs = _runs(Span(heading, bold=True), size="Medium")
        return [_rich(runs)]
    if isinstance(block, Paragraph):
        return _lines([block.spans])
    return _lines(list(block.items), prefix=BULLET)


def _lines(lines: Sequence[Line], prefix: str = "") -> list[Element]:
    out: list[Element] = []
    for line in lines:
        runs = [run for span in line for run in _runs(span)]
        if not "".join(r["text"] for r in runs).strip():
            continue
        if prefix:
            runs.insert(0, {"type": "TextRun", "text": prefix})
        block: list[Element] = []
        for run in runs:
            if block and card_bytes(_rich([*block, run])) > MAX_BLOCK_BYTES:
                out.append(_rich(block))
                block = []
            block.append(run)
        out.append(_rich(block))
    return out


def _rich(runs: list[Element]) -> Element:
    return {"type": "RichTextBlock", "inlines": runs}


def _runs(span: Span, size: str = "") -> list[Element]:
    runs: list[Element] = []
    for piece in _pieces(span.text):
        run: Element = {"type": "TextRun", "text": piece}
        if span.bold:
            run["weight"] = "Bolder"
        if span.italic:
            run["italic"] = True
        if span.code:
            run["fontType"] = "Monospace"
        if size:
            run["size"] = size
        if span.link and _safe_url(span.link):
            run["selectAction"] = {"type": "Action.OpenUrl", "url": span.link}
            run["color"] = "Accent"
        runs.append(run)
    return runs


def _pieces(text: str) -> list[str]:
    """The text cut between characters into runs of at most MAX_RUN_TEXT characters and
    MAX_RUN_BYTES bytes as sent (an emoji is 12 bytes escaped, a quote 2)."""
    pieces: list[str] = []
    start, cost = 0, 0
    for index, char in enumerate(text):
        width = len(json.dumps(char)) - 2
        if index > start and (index - start >= MAX_RUN_TEXT or cost + width > MAX_RUN_BYTES):
            pieces.append(text[start:index])
            start, cost = index, 0
        cost += width
    if start < len(text) or not pieces:
        pieces.append(text[start:])
    return pieces


def _safe_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _fallback(elements: Sequence[Element]) -> str:
    lines = [
        "".join(run["text"] for run in e["inlines"])
        for e in elements
        if e["type"] == "RichTextBlock"
    ]
    text = "\n".join(lines)
    return text if len(text) <= MAX_FALLBACK else text[: MAX_FALLBACK - 1] + "…"


# --- buttons ----------------------------------------------------------------------------------


def _action_sets(rows: Sequence[Sequence[Button]], payloads: Mapping[str, str]) -> list[Element]:
    out: list[Element] = []
    inputs = 0
    for row in rows:
        for start in range(0, len(row), MAX_ACTIONS_PER_SET):
            part = row[start : start + MAX_ACTIONS_PER_SET]
            actions = []
            for button in part:
                input_id = ""
                if button.takes_text:
                    inputs += 1
                    input_id = f"{TYPED_PREFIX}{inputs}"
                    out.append(
                        {
                            "type": "Input.Text",
                            "id": input_id,
                            "placeholder": _title(button.takes_text),
                            "maxLength": 500,
                        }
                    )
                actions.append(_submit(button, payloads[button.action], input_id))
            out.append({"type": "ActionSet", "actions": actions})
    return out


def _submit(button: Button, payload: str, input_id: str) -> Element:
    data = {PAYLOAD_KEY: payload}
    if input_id:
        data[INPUT_KEY] = input_id
    action: Element = {"type": "Action.Submit", "title": _title(button.label), "data": data}
    if button.role in ("confirm", "approve"):
        action["style"] = "positive"
    elif button.role in ("cancel", "decline"):
        action["style"] = "destructive"
    return action


def _title(label: str) -> str:
    title = " ".join(label.split()) or "…"
    return title if len(title) <= MAX_BUTTON_TITLE else title[: MAX_BUTTON_TITLE - 1] + "…"
