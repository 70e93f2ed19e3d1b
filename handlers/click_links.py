"""Links in digests and broadcasts through the bridge's own redirect (`/r/<token>`), so that
clicks are counted per push, item and audience, and never per person.

Done once per push, when it is queued: every recipient gets the same tokens, so a click
cannot tell who followed it. Only with config `http.public_url` (where readers reach the
redirect); without it links stay as written. The text a reader sees is unchanged: a link
span keeps its words, and a web address typed in a broadcast's text stays that address,
only its link points at the redirect. Only http(s) links are rewritten, and a token leads
only to the address the push held (store/clicks.py).
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.replies import BulletList, Line, Paragraph, Reply, Span, map_lines
from ccin_bridge.store import clicks, outbox

REDIRECT_PATH = "/r/"
# A push to fewer distinct chats than this keeps its links as written: with one token per
# push, a click on a push to one or a few people would say who clicked.
MIN_RECIPIENTS = 10
# A web address in plain text (a broadcast's); punctuation that ends a sentence is not part
# of it, nor is a closing bracket that none in the address opened.
_ADDRESS = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\""
_CLOSING = {")": "(", "]": "[", "}": "{"}
# Link words that say nothing of the item: the line's bold title names it instead.
_GENERIC = {"read more", "more", "here", "link", "click here"}


def _ends_sentence(address: str) -> bool:
    """Whether the address's last character is punctuation around it rather than its own."""
    last = address[-1]
    if last in _CLOSING:  # `Tree_(data_structure)` keeps its bracket; `(see https://a.b/)` not
        return address.count(_CLOSING[last]) < address.count(last)
    # ASCII `.` or `?`, and any other script's punctuation (`。`, `、`, `」`); `/`, `-`, `_`
    # and `#` end many addresses and stay.
    return last in _TRAILING or (not last.isascii() and unicodedata.category(last)[0] == "P")


def _addresses(text: str) -> list[tuple[int, int]]:
    found = []
    for match in _ADDRESS.finditer(text):
        end = match.end()
        while end > match.start() and _ends_sentence(text[match.start() : end]):
            end -= 1
        found.append((match.start(), end))
    return found


def _item(line: Line, span: Span) -> str:
    words = span.text.strip()
    if words.casefold() in _GENERIC:
        title = next((s.text.strip() for s in line if s.bold and s.text.strip()), "")
        if title:
            return title
    return words or (span.link or "")


def _links(line: Line) -> list[tuple[str, str]]:
    """(url, item) of each web link in the line, as `_rewrite` meets them."""
    found = []
    for span in line:
        if span.link is not None:
            if clicks.followable(span.link):
                found.append((span.link, _item(line, span)))
        else:
            addresses = [span.text[a:b] for a, b in _addresses(span.text)]
            found += [(url, url) for url in addresses if clicks.followable(url)]
    return found


def _rewrite(line: Line, tokens: dict[tuple[str, str], str], base: str) -> Line:
    spans: list[Span] = []
    for span in line:
        if span.link is not None:
            token = tokens.get((span.link, _item(line, span)))
            spans.append(span if token is None else _to(span, span.text, base, token))
            continue
        at = 0
        for a, b in _addresses(span.text):
            address = span.text[a:b]
            token = tokens.get((address, address))
            if token is None:  # not followable (too long): stays plain text
                continue
            if a > at:
                spans.append(_to(span, span.text[at:a], None, None))
            spans.append(_to(span, address, base, token))
            at = b
        if at == 0:
            spans.append(span)
        elif at < len(span.text):
            spans.append(_to(span, span.text[at:], None, None))
    return tuple(spans)


def _to(span: Span, text: str, base: str | None, token: str | None) -> Span:
    link = None if base is None or token is None else f"{base}{REDIRECT_PATH}{token}"
    return Span(text, bold=span.bold, italic=span.italic, code=span.code, link=link)


def tracked(reply: Reply, tokens: dict[tuple[str, str], str], base: str) -> Reply:
    """The reply with each link in `tokens` (by url and item) sent through the redirect."""
    return map_lines(reply, lambda line: _rewrite(line, tokens, base))


def links_in(reply: Reply) -> list[tuple[str, str]]:
    """(url, item) of every web link in the reply, each once, in order."""
    found: dict[tuple[str, str], None] = {}
    for block in reply.blocks:
        if isinstance(block, Paragraph):
            found.update(dict.fromkeys(_links(block.spans)))
        elif isinstance(block, BulletList):
            for item in block.items:
                found.update(dict.fromkeys(_links(item)))
    return list(found)


async def track(
    session: AsyncSession,
    settings: Settings,
    *,
    push_id: int,
    reply: Reply,
    audience: str | None,
    recipients: int,
) -> int:
    """Put a queued push's links behind the redirect (its stored reply rewritten, in the same
    unit of work that queued it, before any lane can send it); how many links. Nothing
    without `http.public_url`, nor for a push to fewer than MIN_RECIPIENTS distinct chats
    (`recipients`)."""
    base = settings.http.public_url
    if not base or recipients < MIN_RECIPIENTS:
        return 0
    tokens = {}
    for url, item in links_in(reply):
        tokens[(url, item)] = await clicks.add_link(
            session, push_id=push_id, url=url, item=item, audience=audience
        )
    if tokens:
        await outbox.set_payload(session, push_id, reply_codec.encode(tracked(reply, tokens, base)))
    return len(tokens)
