"""A posted message's spans as blocks: paragraphs at blank lines, bullet lines as a list."""

from __future__ import annotations

from ccin_bridge.handlers.relay_text import to_blocks
from ccin_bridge.handlers.replies import BulletList, Paragraph, Span


def test_paragraphs_lines_and_lists_keep_their_styles() -> None:
    spans = [
        Span("Agenda ", bold=True),
        Span("for\nTuesday\n\n- item "),
        Span("one", italic=True),
        Span("\n• two\n\nAfter"),
    ]
    assert to_blocks(spans) == (
        Paragraph((Span("Agenda ", bold=True), Span("for"), Span("\n"), Span("Tuesday"))),
        BulletList(((Span("item "), Span("one", italic=True)), (Span("two"),))),
        Paragraph((Span("After"),)),
    )


def test_a_bullet_marker_split_across_spans_and_an_empty_message() -> None:
    assert to_blocks([Span("-"), Span(" x", bold=True)]) == (
        BulletList(((Span("x", bold=True),),)),
    )
    assert to_blocks([Span("  \n\n ")]) == ()
    # "*bold*" at a line's start is not a bullet: a bullet's star is followed by a space.
    assert to_blocks([Span("*not a list*")]) == (Paragraph((Span("*not a list*"),)),)
