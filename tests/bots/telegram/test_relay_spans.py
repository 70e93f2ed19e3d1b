"""Telegram's text and entities as the core's spans (offsets in UTF-16 code units)."""

from __future__ import annotations

from telegram import MessageEntity

from ccin_bridge.bots.telegram.relay import spans
from ccin_bridge.handlers.replies import Span


def test_entities_after_emoji_and_nested_styles_land_on_the_right_text() -> None:
    text = "🙂 bold and link www.example.org"
    # 🙂 is two UTF-16 code units: "bold" starts at 3, not 2.
    entities = [
        MessageEntity(MessageEntity.BOLD, 3, 8),
        MessageEntity(MessageEntity.ITALIC, 8, 3),
        MessageEntity(MessageEntity.TEXT_LINK, 12, 4, url="https://example.org/a?b=<1>"),
        MessageEntity(MessageEntity.URL, 17, 15),
    ]
    assert spans(text, entities) == [
        Span("🙂 "),
        Span("bold ", bold=True),
        Span("and", bold=True, italic=True),
        Span(" "),
        Span("link", link="https://example.org/a?b=<1>"),
        Span(" "),
        Span("www.example.org", link="https://www.example.org"),
    ]


def test_code_and_mentions() -> None:
    entities = [
        MessageEntity(MessageEntity.CODE, 0, 5),
        MessageEntity(MessageEntity.MENTION, 6, 4),
    ]
    assert spans("x < y @ada", entities) == [Span("x < y", code=True), Span(" "), Span("@ada")]
