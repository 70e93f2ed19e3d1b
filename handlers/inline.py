"""Inline mode (`@bot community energy` typed in any chat): search results as shareable cards.

Platform-neutral: each card carries the message it posts as a neutral `Reply`, and adapters
render it (Telegram: an article result with HTML text and a URL button). Paging is by an
opaque offset string that the platform hands back with the next request. Nothing typed here
ever raises: bad filters are ignored by the query parser, and a failure is logged and
answered with no cards.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ccin_bridge.handlers.replies import Reply, ReplyBuilder, bold, italic, link
from ccin_bridge.handlers.requests import clean_text
from ccin_bridge.handlers.runtime import Runtime
from ccin_bridge.store import search as store_search
from ccin_bridge.store.records import SearchHit

log = logging.getLogger(__name__)

PAGE_SIZE = 20  # Telegram allows 50 per answer; 20 keeps each answer quick to render
MAX_OFFSET = 1000  # nobody scrolls further; a larger offset is treated as the end
MAX_QUERY = 256  # Telegram's own limit on an inline query
DEFAULT_QUERY = "kind:supplier"  # an empty query shows the DPS suppliers
KIND_LABEL = {
    "case_study": "Case study",
    "project": "Funded project",
    "publication": "Publication",
    "supplier": "DPS supplier",
}
SUMMARY_CHARS = 600
DESCRIPTION_CHARS = 160


@dataclass(frozen=True)
class InlineCard:
    id: str  # unique within one answer, short (Telegram: at most 64 bytes)
    title: str
    description: str
    url: str | None  # shown as a button under the posted message
    message: Reply  # what is posted in the chat when the card is picked


@dataclass(frozen=True)
class InlinePage:
    cards: tuple[InlineCard, ...]
    next_offset: str = ""  # "" when there is nothing more


def parse_offset(offset: str) -> int:
    """The platform echoes back our own `next_offset`; anything else means the first page."""
    value = offset.strip()
    if not value.isascii() or not value.isdigit():
        return 0
    return min(int(value), MAX_OFFSET)


async def inline_page(
    bridge: Runtime, query: str, offset: str = "", *, limit: int = PAGE_SIZE
) -> InlinePage:
    """One page of cards for what someone typed after the bot's name. Never raises."""
    start = parse_offset(offset)
    if start >= MAX_OFFSET:
        return InlinePage(())
    wanted = clean_text(query)[:MAX_QUERY] or DEFAULT_QUERY
    try:
        async with bridge.db.read() as session:
            # Every kind /search covers (its default), publications included.
            page = await store_search.search(session, wanted, offset=start, limit=limit)
    except Exception:
        log.exception("inline search failed for a query of %d characters", len(wanted))
        return InlinePage(())
    cards: dict[str, InlineCard] = {}
    for hit in page.hits:
        card = card_for(hit)
        cards.setdefault(card.id, card)
    end = start + len(page.hits)
    more = bool(page.hits) and end < page.total and end < MAX_OFFSET
    return InlinePage(tuple(cards.values()), str(end) if more else "")


def card_for(hit: SearchHit) -> InlineCard:
    facts = [KIND_LABEL.get(hit.kind, hit.kind)]
    if hit.member:
        facts.append(hit.member)
    if hit.year:
        facts.append(hit.year)
    summary = " ".join(hit.summary.split())
    builder = ReplyBuilder().para(link(hit.title, hit.url) if hit.url else bold(hit.title))
    builder.para(italic(", ".join(facts)))
    if summary:
        builder.para(_shorten(summary, SUMMARY_CHARS))
    description = ", ".join(facts) + (f": {summary}" if summary else "")
    return InlineCard(
        id=f"{hit.kind}:{hit.id}",
        title=hit.title,
        description=_shorten(description, DESCRIPTION_CHARS),
        url=hit.url,
        message=builder.build(),
    )


def _shorten(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    cut = value[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"
