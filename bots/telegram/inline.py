"""Inline mode: `@bot query` in any chat answers with article cards that post search results.

The cards come from `handlers.inline`; this module only turns each into an
`InlineQueryResultArticle` (HTML text, every piece of data escaped by `render`, and a URL
button where the result has a page). BotFather's /setinline must be on for Telegram to send
inline queries at all.
"""

from __future__ import annotations

import logging

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes, InlineQueryHandler

from ccin_bridge.bots.telegram.refs import user_ref
from ccin_bridge.bots.telegram.render import LINK_SCHEMES, render_reply
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.events import InlineQuery
from ccin_bridge.handlers.inline import InlineCard, InlinePage

log = logging.getLogger(__name__)

# Results change when data is imported; a short cache keeps typing snappy without going stale.
CACHE_SECONDS = 30
MAX_TITLE = 256


def article(card: InlineCard) -> InlineQueryResultArticle:
    # A card's message is short by construction; should one ever be split, the first
    # message-sized piece is posted (an inline result is always a single message).
    [first, *_] = render_reply(card.message)
    url = card.url if card.url and card.url.startswith(LINK_SCHEMES[:2]) else None
    markup = (
        InlineKeyboardMarkup([[InlineKeyboardButton("Open the page", url=url)]]) if url else None
    )
    return InlineQueryResultArticle(
        id=card.id,
        title=card.title[:MAX_TITLE] or "Untitled",
        description=card.description,
        url=url,
        input_message_content=InputTextMessageContent(
            first.html,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
        reply_markup=markup,
    )


class TelegramInline:
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    def handler(self) -> InlineQueryHandler[ContextTypes.DEFAULT_TYPE, None]:
        return InlineQueryHandler(self._on_inline_query)

    async def _on_inline_query(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.inline_query
        if query is None:
            return
        outcome = await self.bridge.dispatch(
            InlineQuery(user_ref(query.from_user), query.query, query.offset)
        )
        page = outcome.inline or InlinePage(())
        try:
            await query.answer(
                [article(card) for card in page.cards],
                cache_time=CACHE_SECONDS,
                is_personal=False,  # the same words find the same cards for everyone
                next_offset=page.next_offset,
            )
        except TelegramError as exc:
            # An expired query is normal (people keep typing); anything else is worth a look.
            expired = "query is too old" in str(exc)
            log.log(logging.INFO if expired else logging.WARNING, "inline answer failed: %s", exc)
