"""Telegram's preview for the console: the adapter's own HTML, split where it splits, drawn
with only the tags Telegram honours and every piece of text escaped again."""

from __future__ import annotations

from ccin_bridge.bots.telegram.preview import bubble_html, preview
from ccin_bridge.bots.telegram.render import MAX_TEXT
from ccin_bridge.handlers.replies import Button, ReplyBuilder, Span


def test_a_reply_is_drawn_as_telegram_shows_it() -> None:
    reply = (
        ReplyBuilder()
        .heading("Meeting <today>")
        .para(
            "See https://example.org/a_b. ",
            Span("Agenda", link="https://example.org/?a=1&b=2", italic=True),
            " ",
            Span("<code>", code=True),
            " ",
            Span("app", link="tg://resolve?domain=x"),
        )
        .buttons(Button("Stop announcements", "unsubscribe announcements"))
        .build()
    )
    (message,) = preview(reply)
    assert message == (
        '<div class="preview-text"><strong>Meeting &lt;today&gt;</strong><br><br>'
        'See <a href="https://example.org/a_b" rel="noreferrer">https://example.org/a_b</a>. '
        '<a href="https://example.org/?a=1&amp;b=2" rel="noreferrer"><em>Agenda</em></a> '
        "<code>&lt;code&gt;</code> app</div>"  # a tg:// link: the words, which a page cannot open
        '<div class="preview-buttons"><span class="preview-button">Stop announcements</span></div>'
    )


def test_a_reply_too_long_for_one_message_is_drawn_as_the_messages_telegram_gets() -> None:
    words = "word " * (MAX_TEXT // 5)
    reply = ReplyBuilder().para(words).para(words).buttons(Button("OK", "ok")).build()
    first, second = preview(reply)
    assert "preview-button" not in first and "preview-button" in second  # on the last one


def test_nothing_in_the_html_becomes_markup_in_the_page() -> None:
    drawn = bubble_html('<b>x</b><script>alert(1)</script>&lt;i&gt;<a href="javascript:x">y</a>')
    assert drawn == "<strong>x</strong>alert(1)&lt;i&gt;y"
