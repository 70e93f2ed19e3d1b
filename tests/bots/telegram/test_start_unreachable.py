"""Telegram down or out of reach when the bridge starts: a few tries, then one clear line."""

from __future__ import annotations

import logging

import pytest

from ccin_bridge.bots.telegram import adapter
from ccin_bridge.bots.telegram.adapter import TelegramBot
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.platforms import PlatformUnreachable
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapter, "START_RETRIES", (0.01, 0.01))


async def test_a_telegram_that_answers_on_a_later_try_is_used(
    tg_bridge: Bridge, fake_api: FakeTelegramAPI, caplog: pytest.LogCaptureFixture
) -> None:
    fake_api.fail("getMe", 502, "Bad Gateway", times=2)  # a proxy before it, restarting
    bot = TelegramBot(tg_bridge, token=TOKEN, base_url=fake_api.base_url, poll_timeout=1)
    try:
        with caplog.at_level(logging.WARNING):
            await bot.start()
        assert len(fake_api.calls_to("getMe")) == 3
        assert caplog.text.count("Telegram cannot be reached") == 2
    finally:
        await bot.stop()


async def test_a_telegram_out_of_reach_fails_in_one_line_without_the_token(
    tg_bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    bot = TelegramBot(tg_bridge, token=TOKEN, base_url="http://127.0.0.1:1/bot", poll_timeout=1)
    with pytest.raises(PlatformUnreachable) as failed:
        await bot.start()
    said = str(failed.value)
    assert said.startswith("the Telegram Bot API at http://127.0.0.1:1 cannot be reached")
    assert "check the network or TELEGRAM_API_BASE_URL" in said
    assert TOKEN not in said + caplog.text and "\n" not in said
