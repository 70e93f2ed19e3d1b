"""The neutral reply model as HTML: every piece of text escaped, buttons as small forms that
post back the button's payload (a pressed chat button, in the browser)."""

from __future__ import annotations

from markupsafe import Markup, escape

from ccin_bridge.handlers.replies import Block, BulletList, Button, Heading, Reply, Span


def span(value: Span) -> Markup:
    inner = escape(value.text)
    if value.code:
        inner = Markup("<code>%s</code>") % inner
    if value.bold:
        inner = Markup("<strong>%s</strong>") % inner
    if value.italic:
        inner = Markup("<em>%s</em>") % inner
    if value.link and value.link.startswith(("https://", "http://", "mailto:")):
        inner = Markup('<a href="%s" rel="noreferrer">%s</a>') % (value.link, inner)
    return inner


def _line(spans: tuple[Span, ...]) -> Markup:
    # Line breaks inside a paragraph (a broadcast's lines) stay line breaks.
    return Markup("").join(span(s) for s in spans).replace("\n", Markup("<br>"))


def block(value: Block, level: int) -> Markup:
    if isinstance(value, Heading):
        return Markup("<h%d>%s</h%d>") % (level, value.text, level)
    if isinstance(value, BulletList):
        items = Markup("").join(Markup("<li>%s</li>") % _line(item) for item in value.items)
        return Markup("<ul>%s</ul>") % items
    return Markup("<p>%s</p>") % _line(value.spans)


def reply(
    value: Reply, payloads: dict[Button, str], csrf: str, *, level: int = 3, back: str = "./"
) -> Markup:
    """One reply; `payloads` holds each button's posted payload (Console.payload); `back`:
    the page a pressed button's outcome is shown on."""
    parts = [block(b, level) for b in value.blocks]
    for row in value.buttons:
        forms = Markup("").join(_button(b, payloads[b], csrf, back) for b in row)
        parts.append(Markup('<div class="actions">%s</div>') % forms)
    if value.attachment is not None:
        parts.append(
            Markup('<p class="hint">Attachment: %s (%s bytes); get it in chat.</p>')
            % (value.attachment.filename, f"{len(value.attachment.content):,}")
        )
    return Markup('<section class="reply">%s</section>') % Markup("").join(parts)


def _button(button: Button, payload: str, csrf: str, back: str) -> Markup:
    style = {"approve": "primary", "confirm": "primary", "decline": "warning"}.get(button.role, "")
    extra = Markup("")
    if button.takes_text:
        extra = (
            Markup(
                '<label>%s <input type="text" name="typed" maxlength="1000" autocomplete="off">'
                "</label>"
            )
            % button.takes_text.capitalize()
        )
    return Markup(
        '<form method="post" action="press" class="button-form">'
        '<input type="hidden" name="csrf" value="%s">'
        '<input type="hidden" name="payload" value="%s">'
        '<input type="hidden" name="back" value="%s">%s'
        '<button type="submit" class="button %s">%s</button></form>'
    ) % (csrf, payload, back, extra, style, button.label)
