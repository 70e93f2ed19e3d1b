"""The neutral reply model that every adapter renders (Telegram HTML, Slack blocks, plain text).

Handlers build replies from these pieces and never format for a platform themselves; adapters
escape every piece of text they render.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

# What pressing a button means, for an adapter that shows or handles it specially (a form's
# Submit and Cancel, a join-request card's decisions): never parsed from its action.
ButtonRole = Literal["", "confirm", "cancel", "approve", "decline"]
# What a reply is, for an adapter that presents some kinds its own way (Slack's form for
# join requests). Plain replies have no kind.
ReplyKind = Literal["", "approval_request", "preview"]


@dataclass(frozen=True)
class Span:
    """A run of text with emphasis, or a link when `link` is set."""

    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False
    link: str | None = None


Line = tuple[Span, ...]


@dataclass(frozen=True)
class Paragraph:
    spans: Line


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class BulletList:
    items: tuple[Line, ...]


Block = Paragraph | Heading | BulletList


@dataclass(frozen=True)
class Button:
    """A choice. `action` is a command line (e.g. `search food --page 2`) run when picked.

    `takes_text` names what a form may type to go with it (e.g. "reason"): that text is
    appended to the action as its last argument (`Bridge.handle_button(..., typed=...)`)."""

    label: str
    action: str
    role: ButtonRole = ""
    takes_text: str = ""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str


@dataclass(frozen=True)
class Reply:
    blocks: tuple[Block, ...]
    buttons: tuple[tuple[Button, ...], ...] = ()
    attachment: Attachment | None = None
    private: bool = False  # holds personal data: adapters send it to the person, not the group
    kind: ReplyKind = ""

    @property
    def plain_text(self) -> str:
        """A readable plain-text form (notification previews, logs of our own messages)."""
        return "\n\n".join(_block_text(b) for b in self.blocks)


def _block_text(block: Block) -> str:
    if isinstance(block, Heading):
        return block.text
    if isinstance(block, Paragraph):
        return "".join(s.text for s in block.spans)
    return "\n".join("• " + "".join(s.text for s in item) for item in block.items)


@dataclass
class ReplyBuilder:
    """Small fluent helper so handlers read like the message they produce."""

    blocks: list[Block] = field(default_factory=list)
    rows: list[tuple[Button, ...]] = field(default_factory=list)

    def heading(self, text: str) -> ReplyBuilder:
        self.blocks.append(Heading(text))
        return self

    def para(self, *spans: Span | str) -> ReplyBuilder:
        self.blocks.append(Paragraph(tuple(_span(s) for s in spans)))
        return self

    def bullets(self, items: Sequence[Line]) -> ReplyBuilder:
        if items:
            self.blocks.append(BulletList(tuple(items)))
        return self

    def buttons(self, *buttons: Button) -> ReplyBuilder:
        if buttons:
            self.rows.append(tuple(buttons))
        return self

    def build(
        self, *, attachment: Attachment | None = None, private: bool = False, kind: ReplyKind = ""
    ) -> Reply:
        return Reply(tuple(self.blocks), tuple(self.rows), attachment, private, kind)


def _span(value: Span | str) -> Span:
    return Span(value) if isinstance(value, str) else value


def text(message: str) -> Reply:
    return ReplyBuilder().para(message).build()


def bold(value: str) -> Span:
    return Span(value, bold=True)


def italic(value: str) -> Span:
    return Span(value, italic=True)


def link(label: str, url: str) -> Span:
    return Span(label, link=url)


def map_lines(reply: Reply, change: Callable[[Line], Line]) -> Reply:
    """The reply with every line of text (a paragraph's, a list item's) passed through
    `change`; headings, buttons and the rest as they were."""
    blocks: list[Block] = []
    for block in reply.blocks:
        if isinstance(block, Paragraph):
            blocks.append(Paragraph(change(block.spans)))
        elif isinstance(block, BulletList):
            blocks.append(BulletList(tuple(change(item) for item in block.items)))
        else:
            blocks.append(block)
    return replace(reply, blocks=tuple(blocks))
