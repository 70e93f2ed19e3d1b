"""The monthly digest as Telegram receives it: split into messages Telegram accepts."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

from ccin_bridge.bots.telegram.render import MAX_TEXT, render_reply, visible_length
from ccin_bridge.handlers import digest
from ccin_bridge.handlers.config import Settings
from ccin_bridge.store.db import Database
from tests.conftest import Clock
from tests.handlers.push_support import ADA, push_bridge, say
from tests.handlers.test_digest import _approved


async def test_a_long_digest_splits_into_messages_telegram_accepts(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await say(bridge, ADA, "/start")
    for n in range(40):
        await _approved(bridge, f"Network story number {n} " + "x" * 60, "https://example.org/s")
    async with bridge.db.session() as session:
        composed = await digest.compose(
            session, bridge.settings, "members", now=clock.now, edition=date(2026, 12, 1)
        )
    chunks = render_reply(composed.reply)
    assert len(chunks) > 1
    assert all(visible_length(unescape(re.sub("<[^>]+>", "", c.html))) <= MAX_TEXT for c in chunks)
    assert "Network story number 39" in composed.reply.plain_text
    assert chunks[-1].rows  # the buttons come with the last message
