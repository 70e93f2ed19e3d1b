"""Two bridge processes on one PostgreSQL database with one bot token: only the one that
handles Telegram's updates polls (Telegram allows one poller per token), and the other takes
over, polling included, when it goes."""

from __future__ import annotations

import asyncio

import pytest

from ccin_bridge.bots.telegram.adapter import TelegramBot
from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.store.db import Database
from tests.bots.telegram.conftest import ALICE
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI

pytestmark = pytest.mark.postgres


async def a_process(settings: Settings, url: str, api: FakeTelegramAPI) -> TelegramBot:
    bridge = Bridge(settings, Database(url), all_commands())
    await bridge.start()
    bot = TelegramBot(bridge, token=TOKEN, base_url=api.base_url, poll_timeout=1, read_timeout=5)
    bot.inbox.lead_check_seconds = 0.2  # a standby tries to lead this often
    return bot


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # a seeded copy, shared by both
async def test_only_the_leader_polls_and_the_other_takes_over_when_it_goes(
    settings: Settings, db: Database, fake_api: FakeTelegramAPI
) -> None:
    url = db.url.render_as_string(hide_password=False)
    first = await a_process(settings, url, fake_api)
    second = await a_process(settings, url, fake_api)
    try:
        await first.start()
        await second.start()
        assert first.inbox.leading and not second.inbox.leading
        assert first.poller._task is not None and second.poller._task is None
        await fake_api.push_message(ALICE, "/suppliers solicitors")
        await fake_api.wait_for(lambda: _answered(fake_api) == 1, within=10)

        await first.stop()  # the leader goes: the other polls within its lead check
        await fake_api.push_message(ALICE, "/suppliers solicitors")
        await fake_api.wait_for(lambda: _answered(fake_api) == 2, within=10)
        assert second.inbox.leading and second.poller._task is not None
        await asyncio.sleep(0.5)
        assert _answered(fake_api) == 2  # each once
    finally:
        for bot in (second, first):
            await bot.stop()
            await bot.bridge.db.close()


def _answered(api: FakeTelegramAPI) -> int:
    return sum("Anthony Collins Solicitors" in m.text for m in api.sent)
