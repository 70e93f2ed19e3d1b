"""Slack's preview for the console: the adapter's own Block Kit, its mrkdwn drawn as Slack
draws it, split into the messages Slack gets, every piece of text escaped again."""

from __future__ import annotations

from ccin_bridge.bots.slack.preview import mrkdwn, preview
from ccin_bridge.bots.slack.render import MAX_BLOCKS
from ccin_bridge.handlers.replies import Button, ReplyBuilder, Span


def test_mrkdwn_is_drawn_as_slack_draws_it() -> None:
    assert mrkdwn("*bold* _it_ ~gone~ `a*b*c` plain") == (
        "<strong>bold</strong> <em>it</em> <s>gone</s> <code>a*b*c</code> plain"
    )
    assert mrkdwn("*<https://x.org/?a=1&amp;b=2|the &lt;site&gt;>*") == (
        '<strong><a href="https://x.org/?a=1&amp;b=2" rel="noreferrer">the &lt;site&gt;</a>'
        "</strong>"
    )
    # Bare addresses are linked, their underscores left alone; a word's stars are not bold.
    assert mrkdwn("see https://x.org/a_b_c and 2*3*4") == (
        'see <a href="https://x.org/a_b_c" rel="noreferrer">https://x.org/a_b_c</a> and 2*3*4'
    )
    assert mrkdwn("&lt;script&gt;&amp;\nnext") == "&lt;script&gt;&amp;<br>next"
    assert mrkdwn("<javascript:alert(1)|click>") == "click"


def test_a_reply_is_drawn_block_by_block() -> None:
    reply = (
        ReplyBuilder()
        .heading("News")
        .para(Span("Read", bold=True), " it")
        .bullets([(Span("one"),)])
        .buttons(Button("More", "more"))
        .build()
    )
    (message,) = preview(reply)
    assert message == (
        '<p class="preview-header">News</p><p class="preview-text"><strong>Read</strong> it</p>'
        '<p class="preview-text">• one</p>'
        '<div class="preview-buttons"><span class="preview-button">More</span></div>'
    )


def test_a_reply_of_more_blocks_than_one_message_takes_is_drawn_as_several() -> None:
    builder = ReplyBuilder()
    for n in range(MAX_BLOCKS + 1):
        builder.heading(f"Part {n}")
    first, second = preview(builder.build())
    assert "Part 49" in first and "Part 50" in second
