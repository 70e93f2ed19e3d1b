"""Adapter wiring that needs no server: configuration, and the test harness's own guard."""

from __future__ import annotations

import os
import socket

import pytest

from ccin_bridge.bots.telegram.adapter import DEFAULT_BASE_URL, TelegramBot, normalise_base_url
from ccin_bridge.handlers.config import ConfigError, Secrets
from ccin_bridge.handlers.core import Bridge


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        (None, DEFAULT_BASE_URL),
        ("", DEFAULT_BASE_URL),
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081/bot"),
        ("http://127.0.0.1:8081/", "http://127.0.0.1:8081/bot"),
        ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/bot"),
        ("http://proxy/telegram/bot/", "http://proxy/telegram/bot"),
        ("http://proxy/{token}/api", "http://proxy/{token}/api"),
    ],
)
def test_base_url_always_ends_where_ptb_appends_the_token(
    configured: str | None, expected: str
) -> None:
    assert normalise_base_url(configured) == expected


def test_the_bot_is_built_from_the_environment(tg_bridge: Bridge) -> None:
    secrets = Secrets.from_env(
        {"TELEGRAM_BOT_TOKEN": "42:ABC", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081"}
    )
    bot = TelegramBot.from_secrets(tg_bridge, secrets)
    assert bot.application.bot.token == "42:ABC"
    assert bot.application.bot.base_url == "http://127.0.0.1:8081/bot42:ABC"
    assert bot.platform == "telegram"
    public = TelegramBot.from_secrets(tg_bridge, Secrets.from_env({"TELEGRAM_BOT_TOKEN": "42:A"}))
    assert public.application.bot.base_url == "https://api.telegram.org/bot42:A"
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
        TelegramBot.from_secrets(tg_bridge, Secrets.from_env({}))


def test_the_harness_refuses_to_reach_the_internet() -> None:
    with pytest.raises(OSError, match="only loopback"):
        socket.getaddrinfo("api.telegram.org", 443)
    assert socket.getaddrinfo("127.0.0.1", 80)


def test_the_adapter_opts_in_to_ptb_timedelta_durations(
    tg_bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without it, PTB warns on every 429 answer it parses (a warning is an error in tests).
    monkeypatch.delenv("PTB_TIMEDELTA", raising=False)
    TelegramBot(tg_bridge, token="42:ABC")
    assert os.environ["PTB_TIMEDELTA"] == "true"
