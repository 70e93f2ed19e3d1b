"""Reply -> Block Kit: escaping, emphasis, links, buttons and Slack's limits.

Each rendered message is also put through the fake Slack's own checks, which are tested here
too, so a rule broken by the renderer cannot hide behind a lenient check.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from ccin_bridge.bots.slack.render import (
    MAX_BLOCKS,
    SlackMessage,
    escape,
    render_reply,
    slack_len,
    view_blocks,
)
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic, link
from tests.fakes.slack_api import block_problems, message_error, mrkdwn_problems


def payloads_for(reply: Reply) -> dict[str, str]:
    return {b.action: "=" + b.action for row in reply.buttons for b in row}


def render(reply: Reply) -> list[SlackMessage]:
    messages = render_reply(reply, payloads_for(reply))
    for message in messages:
        assert message_error({"text": message.text, "blocks": list(message.blocks)}) is None
    return messages


def section_texts(messages: list[SlackMessage]) -> list[str]:
    return [b["text"]["text"] for m in messages for b in m.blocks if b["type"] == "section"]


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def only_text(reply: Reply) -> str:
    (message,) = render(reply)
    (block,) = message.blocks
    text: str = block["text"]["text"]
    return text


# --- escaping and emphasis ----------------------------------------------------------------------


def test_markup_characters_in_data_are_escaped_everywhere() -> None:
    reply = (
        ReplyBuilder()
        .heading("Fish & <Chips>")
        .para("a < b & c > d ", bold("<b>"), " ", link("R&D <x>", "https://x.org/?a=1&b=<2>"))
        .bullets([(Span("Barking & Dagenham"),), (italic("<i>"),)])
        .build()
    )
    (message,) = render(reply)
    header, para, bullets = message.blocks
    # plain_text is shown literally; only mrkdwn needs the entities.
    assert header["text"] == {"type": "plain_text", "text": "Fish & <Chips>"}
    assert para["text"]["text"] == (
        "a &lt; b &amp; c &gt; d *&lt;b&gt;* <https://x.org/?a=1&amp;b=&lt;2&gt;|R&amp;D &lt;x&gt;>"
    )
    assert bullets["text"]["text"] == "• Barking &amp; Dagenham\n• _&lt;i&gt;_"
    assert message.text.startswith("Fish &amp; &lt;Chips&gt;\na &lt; b")


def test_emphasis_hugs_the_words_and_code_keeps_its_backticks_balanced() -> None:
    reply = ReplyBuilder().para(
        "x", bold(" Name: "), italic(" — Case study "), Span("a`b", code=True), bold("  ")
    )
    assert only_text(reply.build()) == "x *Name:*  _— Case study_ `aˋb`  "
    both = Span("both", bold=True, italic=True)
    assert only_text(ReplyBuilder().para(both).build()) == "*_both_*"


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("bit.ly/CCIN-sustainable-food", "<https://bit.ly/CCIN-sustainable-food|T>"),
        ("https://example.org/a|b", "<https://example.org/a%7Cb|T>"),
        ("mailto:hello@example.org", "<mailto:hello@example.org|T>"),
        ("javascript:alert(1)", "T"),
        ("not a url", "T"),
        ("localhost/x", "T"),
    ],
)
def test_links_only_to_places_slack_can_open(url: str, token: str) -> None:
    assert only_text(ReplyBuilder().para(link("T", url)).build()) == token


def test_an_emphasised_link_keeps_its_emphasis() -> None:
    span = Span("Site", bold=True, link="https://x.org")
    assert only_text(ReplyBuilder().para(span).build()) == "*<https://x.org|Site>*"


def test_slack_markup_typed_in_data_cannot_mention_or_link() -> None:
    text = only_text(ReplyBuilder().para("<!channel> <@U123> <https://evil.example|x>").build())
    assert "<" not in text and ">" not in text
    assert unescape(text) == "<!channel> <@U123> <https://evil.example|x>"


# --- Slack's limits -------------------------------------------------------------------------------


def test_a_long_paragraph_is_split_into_sections_without_losing_or_breaking_text() -> None:
    rng = random.Random(7)
    words = ["&", "<tag>", "🍲", "co-operative", "R&D", "x" * 40, ">", "council"]
    raw = " ".join(rng.choice(words) for _ in range(2500))
    messages = render(ReplyBuilder().para(raw).build())
    texts = section_texts(messages)
    assert len(texts) >= 3
    assert all(slack_len(t) <= 3000 for t in texts)
    assert all(mrkdwn_problems(t, "section") == [] for t in texts)
    assert unescape("".join(texts)) == raw


def test_a_long_bold_span_stays_bold_in_every_piece() -> None:
    texts = section_texts(render(ReplyBuilder().para(bold("word " * 1500)).build()))
    assert len(texts) == 3
    assert all(t.strip().startswith("*") and t.strip().endswith("*") for t in texts)


def test_an_unbroken_run_of_emoji_is_cut_between_characters() -> None:
    texts = section_texts(render(ReplyBuilder().para("🙂" * 2000).build()))
    # Each emoji is two UTF-16 code units, so 1500 fit in a section.
    assert [len(t) for t in texts] == [1500, 500]


def test_bullets_are_packed_whole_into_sections() -> None:
    items = [(Span(f"item {n:03d} " + "z" * 90),) for n in range(200)]
    texts = section_texts(render(ReplyBuilder().bullets(items).build()))
    assert len(texts) > 1 and all(slack_len(t) <= 3000 for t in texts)
    lines = [line for t in texts for line in t.split("\n")]
    assert lines == [f"• item {n:03d} " + "z" * 90 for n in range(200)]


def test_too_many_blocks_become_several_messages_with_the_buttons_last() -> None:
    builder = ReplyBuilder()
    for n in range(60):
        builder.para(f"paragraph {n}")
    builder.buttons(Button("Next ▶", "search x --page 2"))
    first, second = render(builder.build())
    assert len(first.blocks) == MAX_BLOCKS and len(second.blocks) == 11
    assert second.blocks[-1]["type"] == "actions"
    assert first.text.startswith("paragraph 0\nparagraph 1")
    assert second.text.startswith("paragraph 50")


def test_many_buttons_and_long_labels_fit_slacks_limits() -> None:
    row = [Button(f"{'Very long label ' * 8}{n}", f"join g{n}") for n in range(30)]
    (message,) = render(ReplyBuilder().para("Pick one").buttons(*row).build())
    actions = [b for b in message.blocks if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [25, 5]
    elements = [e for a in actions for e in a["elements"]]
    assert len({e["action_id"] for e in elements}) == 30
    assert all(e["action_id"].startswith("ccin:") for e in elements)
    assert all(slack_len(e["text"]["text"]) <= 75 for e in elements)
    assert elements[0]["text"]["text"].endswith("…")
    assert elements[29]["value"] == "=join g29"


def test_a_message_of_only_buttons_still_has_fallback_text() -> None:
    (message,) = render(ReplyBuilder().buttons(Button("Help & more", "help")).build())
    assert message.text == "Help &amp; more"


def test_a_long_heading_becomes_a_bold_section() -> None:
    (message,) = render(ReplyBuilder().heading("H" * 200).build())
    assert message.blocks[0] == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*" + "H" * 200 + "*"},
    }


def test_the_fallback_text_is_short_and_made_of_whole_blocks() -> None:
    builder = ReplyBuilder()
    for n in range(20):
        builder.para(f"{n} " + "&" * 300)
    (message,) = render(builder.build())
    assert slack_len(message.text) <= 3000
    assert mrkdwn_problems(message.text, "text") == []


def test_a_button_payload_over_slacks_limit_is_refused() -> None:
    reply = ReplyBuilder().buttons(Button("Go", "search x")).build()
    with pytest.raises(ValueError, match="2000"):
        render_reply(reply, {"search x": "=" + "x" * 2000})


def test_empty_text_makes_no_empty_blocks() -> None:
    reply = ReplyBuilder().heading("  ").para(" ").bullets([(Span(""),)]).build()
    assert render_reply(reply, {}) == []


def test_random_replies_always_pass_slacks_checks() -> None:
    rng = random.Random(2026)
    alphabet = ["a", "B", " ", "&", "<", ">", "*", "_", "`", "🙂", "é", "\n", "|", "https://x.y"]
    for _ in range(40):
        builder = ReplyBuilder()
        for _ in range(rng.randint(0, 70)):
            spans = [
                Span(
                    "".join(rng.choices(alphabet, k=rng.randint(0, 400))),
                    bold=rng.random() < 0.3,
                    italic=rng.random() < 0.3,
                    code=rng.random() < 0.1,
                    link=rng.choice([None, None, "https://x.org/?q=<&>", "x.org"]),
                )
                for _ in range(rng.randint(1, 12))
            ]
            kind = rng.random()
            if kind < 0.2:
                builder.heading("".join(rng.choices(alphabet, k=rng.randint(0, 200))))
            elif kind < 0.6:
                builder.para(*spans)
            else:
                builder.bullets([tuple(spans)] * rng.randint(1, 30))
        builder.buttons(*(Button("b" * rng.randint(1, 90), f"a {n}") for n in range(27)))
        render(builder.build())  # asserts every message passes the fake's checks


# --- the fake's checks can fail -------------------------------------------------------------------


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.mark.parametrize(
    ("blocks", "problem"),
    [
        ([section("a <b> c")], "unescaped '<'"),
        ([section("fish & chips")], "unescaped '&'"),
        ([section("1 > 0")], "unescaped '<' or '>'"),
        ([section("<https://x.org/?a=1&b=2|x>")], "unescaped '&' in a link"),
        ([section("x" * 3001)], "at most 3000"),
        ([section("")], "non-empty"),
        ([section("ok")] * 51, "no more than 50"),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}], "not allowed"),
        ([{"type": "carousel"}], "unsupported type"),
        ([section("ok") | {"colour": "red"}], "unknown field"),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}}
                    ],
                }
            ],
            "at most 75",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "b"},
                            "action_id": "same",
                        }
                    ]
                    * 2,
                }
            ],
            "not unique",
        ),
    ],
)
def test_the_fake_refuses_what_slack_refuses(blocks: list[dict[str, Any]], problem: str) -> None:
    problems = block_problems(blocks)
    assert any(problem in p for p in problems), problems
    assert message_error({"text": "x", "blocks": blocks}) == ("invalid_blocks", problems)


def test_the_fake_accepts_slack_tokens_and_checks_text_length() -> None:
    ok = "<@U123> <#C123|general> <!here> <https://x.org/?a=1&amp;b=2|R&amp;D> &lt;&gt;"
    assert mrkdwn_problems(ok, "text") == []
    assert message_error({"text": "x" * 40_001})[0] == "msg_too_long"  # type: ignore[index]
    assert message_error({"text": "a < b"})[0] == "invalid_arguments"  # type: ignore[index]
    assert escape("<&>") == "&lt;&amp;&gt;"


def test_a_view_is_cut_at_its_block_limit_with_a_note_and_unique_action_ids() -> None:
    replies = [
        ReplyBuilder().heading(f"Part {n}").para("text").buttons(Button("Go", f"go {n}")).build()
        for n in range(40)
    ]
    payloads = {f"go {n}": f"=go {n}" for n in range(40)}
    blocks = view_blocks(replies, payloads, "ccin-home:", 100, "More: `/ccin home`")
    assert len(blocks) == 100
    assert blocks[-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "More: `/ccin home`"}],
    }
    assert blocks[3] == {"type": "divider"}  # between one reply and the next
    ids = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert len(ids) == len(set(ids)) and ids[0] == "ccin-home:0"
    assert block_problems(blocks, 100, in_view=True) == []
    short = view_blocks(replies[:2], payloads, "ccin-home:", 100, "More")
    assert len(short) == 7 and short[-1]["type"] == "actions"
