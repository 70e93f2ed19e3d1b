"""Telegram HTML rendering: escaping, allowed tags, and splitting on the visible length.

Every rendered chunk is also run through the fake server's parser of Telegram's HTML, so
"valid" here means what the server accepts, not what the renderer believes.
"""

from __future__ import annotations

import pytest

from ccin_bridge.bots.telegram.render import (
    BUTTONS_ONLY_TEXT,
    MAX_BUTTONS,
    MAX_TEXT,
    Chunk,
    render_reply,
    render_span,
    visible_length,
)
from ccin_bridge.handlers.replies import (
    Attachment,
    BulletList,
    Button,
    Heading,
    Paragraph,
    Reply,
    ReplyBuilder,
    Span,
    bold,
    italic,
    link,
    text,
)
from tests.fakes.telegram_api import ApiError, parse_html


def visible(chunks: list[Chunk]) -> list[str]:
    return [parse_html(c.html) for c in chunks]


def paragraphs(*lines: str) -> Reply:
    builder = ReplyBuilder()
    for line in lines:
        builder.para(line)
    return builder.build()


def test_data_is_escaped_and_shown_exactly_as_written() -> None:
    nasty = "<b>bold?</b> & <script>alert(1)</script> &amp; \"quoted\" 'single' > done"
    [chunk] = render_reply(text(nasty))
    assert chunk.html == (
        "&lt;b&gt;bold?&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt; &amp;amp; "
        "\"quoted\" 'single' &gt; done"
    )
    assert parse_html(chunk.html) == nasty


@pytest.mark.parametrize(
    ("span", "html"),
    [
        (Span("plain"), "plain"),
        (bold("b"), "<b>b</b>"),
        (italic("i"), "<i>i</i>"),
        (Span("bi", bold=True, italic=True), "<b><i>bi</i></b>"),
        (Span("x < 1", code=True), "<code>x &lt; 1</code>"),
        # Telegram allows nothing inside code, so code wins over emphasis ...
        (Span("c", code=True, bold=True), "<code>c</code>"),
        # ... and a link wins over code (a link may not contain code either).
        (Span("l", code=True, link="https://e.org"), '<a href="https://e.org">l</a>'),
        (link("A & B", 'https://e.org/?q="x"&a=<1>'), None),
        (Span("bold link", bold=True, link="https://e.org"), None),
        # A scheme Telegram would refuse is shown as text, not as a link.
        (link("click", "javascript:alert(1)"), "click"),
        (Span(""), ""),
    ],
)
def test_spans_use_only_the_allowed_tags(span: Span, html: str | None) -> None:
    rendered = render_span(span)
    if html is not None:
        assert rendered == html
    assert parse_html(rendered) == span.text


def test_link_hrefs_are_escaped_as_attribute_values() -> None:
    rendered = render_span(link("A & B", 'https://e.org/?q="x"&a=<1>'))
    assert rendered == ('<a href="https://e.org/?q=&quot;x&quot;&amp;a=&lt;1&gt;">A &amp; B</a>')
    assert render_span(Span("bold link", bold=True, link="https://e.org")) == (
        '<a href="https://e.org"><b>bold link</b></a>'
    )


def test_headings_are_bold_and_bullets_are_dot_lines() -> None:
    reply = Reply(
        (
            Heading("Title <1>"),
            Paragraph((Span("Intro"),)),
            BulletList(((bold("One"), Span(" — first")), (Span("Two"),))),
        )
    )
    [chunk] = render_reply(reply)
    assert chunk.html == "<b>Title &lt;1&gt;</b>\n\nIntro\n\n• <b>One</b> — first\n• Two"
    assert parse_html(chunk.html) == reply.plain_text


def test_buttons_go_with_the_text_and_empty_replies_send_nothing() -> None:
    rows = ((Button("Yes", "yes"), Button("No", "no")),)
    [chunk] = render_reply(Reply((Paragraph((Span("Sure?"),)),), rows))
    assert chunk.rows == rows
    assert render_reply(Reply(())) == []
    # An attachment alone has no text to send: the adapter sends only the document.
    assert render_reply(Reply((), attachment=Attachment("a.json", b"{}", "x"))) == []
    [only_buttons] = render_reply(Reply((), rows))
    assert parse_html(only_buttons.html) == BUTTONS_ONLY_TEXT and only_buttons.rows == rows


def test_keyboards_are_capped_at_telegrams_button_limit() -> None:
    rows = tuple(tuple(Button(f"{r}.{c}", f"x {r} {c}") for c in range(8)) for r in range(15))
    [chunk] = render_reply(Reply((Paragraph((Span("Pick"),)),), rows))
    assert sum(len(row) for row in chunk.rows) == MAX_BUTTONS
    assert chunk.rows[0][0].label == "0.0" and chunk.rows[-1][-1].label == "12.3"


def test_blank_lines_and_blank_paragraphs_are_dropped() -> None:
    reply = Reply((Paragraph((Span("  "),)), Paragraph((Span("a\n\n \nb"),))))
    assert visible(render_reply(reply)) == ["a\nb"]


def test_a_long_reply_is_split_at_block_boundaries() -> None:
    blocks = [f"Paragraph {n}: " + "x & y " * 30 for n in range(40)]  # ~190 characters each
    chunks = render_reply(paragraphs(*blocks), limit=1000)
    shown = visible(chunks)
    assert len(chunks) > 1
    assert all(len(s) <= 1000 for s in shown)
    assert "\n\n".join(shown) == "\n\n".join(blocks)  # no block was cut
    assert all(s.startswith("Paragraph ") for s in shown)


def test_a_block_is_moved_whole_to_the_next_message_when_it_fits_there() -> None:
    first = "a" * 60
    items = tuple((Span(f"item {n} " + "b" * 20),) for n in range(3))  # a 3-line block of 86
    reply = Reply((Paragraph((Span(first),)), BulletList(items)))
    shown = visible(render_reply(reply, limit=100))
    assert shown == [first, "\n".join("• " + items[n][0].text for n in range(3))]


def test_a_block_larger_than_a_message_is_split_between_its_lines() -> None:
    items = tuple((Span(f"line {n:02d} " + "z" * 40),) for n in range(30))
    shown = visible(render_reply(Reply((BulletList(items),)), limit=500))
    assert all(len(s) <= 500 for s in shown)
    assert "\n".join(shown) == "\n".join("• " + i[0].text for i in items)


def test_one_enormous_line_is_split_at_spaces_without_breaking_tags() -> None:
    words = [s for n in range(400) for s in (bold(f"<w{n}>"), Span(" & "), italic("it's "))]
    reply = ReplyBuilder().para(*words).build()
    chunks = render_reply(reply, limit=300)
    shown = visible(chunks)  # each chunk parses: every tag is closed in the chunk it opens
    assert len(chunks) > 10
    assert all(visible_length(s) <= 300 for s in shown)
    assert " ".join(shown) == reply.plain_text.rstrip()
    for chunk in chunks:
        assert chunk.html.count("<b>") == chunk.html.count("</b>")
        assert chunk.html.count("<i>") == chunk.html.count("</i>")


def test_a_word_longer_than_a_message_is_cut_outside_entities() -> None:
    reply = ReplyBuilder().para(Span("<&>" * 100, code=True)).build()
    chunks = render_reply(reply, limit=50)
    assert all(c.html.startswith("<code>") and c.html.endswith("</code>") for c in chunks)
    assert "".join(visible(chunks)) == "<&>" * 100
    assert [visible_length(s) for s in visible(chunks)] == [50] * 6


def test_length_is_counted_as_telegram_does_in_utf16_units() -> None:
    assert visible_length("abc") == 3
    assert visible_length("🙂") == 2  # outside the BMP: a surrogate pair
    assert visible_length("é") == 1
    chunks = render_reply(text("🙂" * 3000))  # 3000 characters, but 6000 units
    assert [visible_length(s) for s in visible(chunks)] == [4096, 6000 - 4096]


def test_a_hard_cut_keeps_emoji_sequences_together() -> None:
    family = "👩\u200d👩\u200d👧"  # one emoji drawn from three joined ones: 8 units
    for limit in range(8, 30):
        chunks = render_reply(text(family * 10), limit=limit)
        for shown in visible(chunks):
            assert shown.startswith("👩\u200d") and shown.endswith("\u200d👧"), (limit, shown)


def test_the_real_limit_holds_for_a_reply_of_many_kinds() -> None:
    builder = ReplyBuilder().heading("Mixed <data> & more")
    for n in range(200):
        builder.para(f"{n} ", bold("b<>"), " ", link("l&", "https://e.org/a?b=1&c=2"), " 🇬🇧 é")
    builder.bullets([(Span("<" * 700),) for _ in range(20)])
    reply = builder.buttons(Button("Next ▶", "next")).build()
    chunks = render_reply(reply)
    assert all(visible_length(s) <= MAX_TEXT for s in visible(chunks))
    assert [bool(c.rows) for c in chunks] == [False] * (len(chunks) - 1) + [True]


def test_the_fake_parser_refuses_what_telegram_refuses() -> None:
    # The tests above lean on parse_html; prove it catches each kind of mistake.
    for bad in ("a < b", "a > b", "fish & chips", "<u>x", "<b>x</i>", "</b>", "<p>x</p>"):
        with pytest.raises(ApiError, match="can't parse entities"):
            parse_html(bad)
    with pytest.raises(ApiError, match="monospace"):
        parse_html("<code><b>x</b></code>")
    with pytest.raises(ApiError, match="href"):
        parse_html("<a>x</a>")
    assert parse_html('<a href="https://e.org/?a=1&amp;b=2"><b>x</b></a> &#x1F642;') == "x 🙂"


def test_limit_must_leave_room_for_any_character() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        render_reply(text("x"), limit=1)
