"""Render the neutral reply model as plain text for the terminal chat."""

from __future__ import annotations

from ccin_bridge.handlers.replies import Block, Button, Heading, Paragraph, Reply, Span


def render_span(span: Span) -> str:
    if span.link:
        return f"{span.text} <{span.link}>"
    if span.code:
        return f"`{span.text}`"
    return span.text


def render_block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"== {block.text} =="
    if isinstance(block, Paragraph):
        return "".join(render_span(s) for s in block.spans)
    return "\n".join("  • " + "".join(render_span(s) for s in item) for item in block.items)


def render_reply(reply: Reply, first_number: int = 1) -> tuple[str, list[Button]]:
    """The text to print, and the buttons in the order they are numbered."""
    parts = [render_block(b) for b in reply.blocks]
    numbered: list[Button] = []
    for row in reply.buttons:
        labels = []
        for button in row:
            numbered.append(button)
            labels.append(f"[{first_number + len(numbered) - 1}] {button.label}")
        parts.append("   ".join(labels))
    if reply.attachment is not None:
        parts.append(
            f"(attachment: {reply.attachment.filename}, {len(reply.attachment.content):,} bytes)"
        )
    return "\n".join(parts), numbered
