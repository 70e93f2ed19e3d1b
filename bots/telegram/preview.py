"""Telegram's messages as the admin console previews them: the very HTML the adapter sends
(render.py, split where it splits at 4,096 characters, buttons on the last message), drawn
as chat bubbles. Only the tags the renderer writes are kept (`b`, `i`, `code`, `a`); every
piece of text is escaped again, so nothing in a message can become markup in the page."""

from __future__ import annotations

from html.parser import HTMLParser

from markupsafe import Markup

from ccin_bridge.bots import preview as draw
from ccin_bridge.bots.telegram.render import render_reply
from ccin_bridge.handlers.replies import Reply

_TAGS = {"b": "strong", "i": "em", "code": "code", "u": "u", "s": "s", "pre": "pre"}


class _Bubble(HTMLParser):
    """Telegram's HTML subset to the page's HTML: known tags mapped, the rest dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[Markup] = []
        self._open: list[str] = []  # what each start tag opened in the page ("" for nothing)
        self._plain = 0  # inside a link or code: Telegram links no bare address there

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href") or ""
            opened = "a" if href.lower().startswith(draw.FOLLOWED) else ""
            if opened:
                self.out.append(Markup('<a href="%s" rel="noreferrer">') % href)
            self._plain += 1
        else:
            opened = _TAGS.get(tag, "")
            if opened:
                self.out.append(Markup(f"<{opened}>"))
            if tag in ("code", "pre"):
                self._plain += 1
        self._open.append(opened)

    def handle_endtag(self, tag: str) -> None:
        if not self._open:
            return
        opened = self._open.pop()
        if opened:
            self.out.append(Markup(f"</{opened}>"))
        if tag in ("a", "code", "pre"):
            self._plain = max(0, self._plain - 1)

    def handle_data(self, data: str) -> None:
        self.out.append(draw.text(data, links=not self._plain))


def bubble_html(telegram_html: str) -> Markup:
    parser = _Bubble()
    parser.feed(telegram_html)
    parser.close()
    return Markup("").join(parser.out)


def preview(reply: Reply) -> list[str]:
    """One fragment per message Telegram would get, in order."""
    drawn = []
    for chunk in render_reply(reply):
        labels = [[b.label for b in row] for row in chunk.rows]
        body = Markup('<div class="preview-text">%s</div>') % bubble_html(chunk.html)
        drawn.append(str(body + draw.buttons(labels)))
    return drawn
