"""A Slack message as the core's spans: its rich_text blocks, else its mrkdwn text."""

from __future__ import annotations

from ccin_bridge.bots.slack.relay import message_id, spans, thread_of, ts_of
from ccin_bridge.handlers.replies import Span


async def names(user_id: str) -> str:
    return {"UOLIVE": "Olive Example"}.get(user_id, "someone")


async def test_mrkdwn_text_links_mentions_and_escapes() -> None:
    message = {"text": "See <https://example.org/?a=1&amp;b=2|the &lt;doc&gt;> &amp; ask <@UOLIVE>"}
    assert await spans(message, names) == [
        Span("See "),
        Span("the <doc>", link="https://example.org/?a=1&b=2"),
        Span(" & ask "),
        Span("@Olive Example"),
    ]


async def test_rich_text_lists_links_and_mentions() -> None:
    block = {
        "type": "rich_text",
        "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": "Points:"}]},
            {
                "type": "rich_text_list",
                "style": "bullet",
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": "one"}]},
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "link", "url": "https://example.org", "text": "two"},
                            {"type": "user", "user_id": "UOLIVE"},
                        ],
                    },
                ],
            },
        ],
    }
    assert await spans({"text": "ignored", "blocks": [block]}, names) == [
        Span("Points:"),
        Span("\n"),
        Span("• "),
        Span("one"),
        Span("\n"),
        Span("• "),
        Span("two", link="https://example.org"),
        Span("@Olive Example"),
        Span("\n"),
    ]


def test_a_reply_in_a_thread_carries_its_root() -> None:
    assert message_id("2.0", None) == message_id("2.0", "2.0") == "2.0"
    reply = message_id("3.0", "2.0")
    assert (ts_of(reply), thread_of(reply), thread_of("2.0")) == ("3.0", "2.0", "2.0")
