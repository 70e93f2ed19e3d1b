"""The bot's Telegram profile at start-up: description, short description and command menus
per scope, from the bridge's own texts; no failure of them stops the bot."""

from __future__ import annotations

import logging

import pytest

from ccin_bridge.bots.telegram.adapter import TelegramBot
from ccin_bridge.handlers import introduction
from ccin_bridge.handlers.core import Bridge
from tests.bots.telegram.conftest import ALICE, Harness
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI

PROFILE = ("setMyDescription", "setMyShortDescription", "setMyCommands")


def _bot(api: FakeTelegramAPI, bridge: Bridge) -> TelegramBot:
    return TelegramBot(
        bridge, token=TOKEN, base_url=api.base_url, poll_timeout=2, connect_timeout=2,
        read_timeout=2,
    )  # fmt: skip


async def test_startup_sets_description_and_a_menu_per_kind_of_chat(telegram: Harness) -> None:
    api, bridge = telegram.api, telegram.bot.bridge
    assert api.descriptions == {"": introduction.description(bridge.settings, "telegram")}
    assert api.short_descriptions == {"": introduction.short_description(bridge.settings)}
    assert "/start" in api.descriptions[""] and "/help" in api.descriptions[""]
    private = [c["command"] for c in api.commands["all_private_chats"]]
    groups = [c["command"] for c in api.commands["all_group_chats"]]
    everyone = [c.name for c in bridge.visible_commands(is_admin=False)]
    assert private == everyone
    assert groups == ["events", "search", "suppliers", "ics", "help"]
    assert not {"start", "join", "mydata", "forgetme", "subscribe", "link"} & set(groups)
    assert "default" not in api.commands  # every chat is private or a group: scoped lists


def test_the_texts_fit_telegrams_limits(telegram: Harness) -> None:
    settings = telegram.bot.bridge.settings
    assert 0 < len(introduction.description(settings, "telegram")) <= 512
    assert 0 < len(introduction.short_description(settings)) <= 120
    long_name = settings.model_copy(update={"network_name": "Network " * 40})
    assert len(introduction.description(long_name, "telegram")) <= 512
    assert len(introduction.short_description(long_name)) <= 120


async def test_an_unchanged_description_is_not_set_again(
    fake_api: FakeTelegramAPI, tg_bridge: Bridge
) -> None:
    for _ in range(2):
        bot = _bot(fake_api, tg_bridge)
        await bot.start()
        await bot.stop()
    assert len(fake_api.calls_to("getMyDescription")) == 2
    assert len(fake_api.calls_to("setMyDescription")) == 1
    assert len(fake_api.calls_to("setMyShortDescription")) == 1


@pytest.mark.parametrize(
    ("status", "description", "said"),
    [
        (403, "Forbidden: bot was blocked", "Forbidden: bot was blocked"),
        (429, "Too Many Requests: retry after 3600", "too many requests, retry after 3600 s"),
    ],
)
async def test_a_refused_profile_never_stops_startup(
    fake_api: FakeTelegramAPI,
    tg_bridge: Bridge,
    caplog: pytest.LogCaptureFixture,
    status: int,
    description: str,
    said: str,
) -> None:
    retry = {"retry_after": 3600} if status == 429 else None
    for method in PROFILE:
        fake_api.fail(method, status, description, times=2, parameters=retry)
    bot = _bot(fake_api, tg_bridge)
    with caplog.at_level(logging.WARNING, logger="ccin_bridge.bots.telegram"):
        await bot.start()
    try:
        harness = Harness(fake_api, bot)
        [answer] = await harness.say(ALICE, "/start")
        assert "welcome to the" in answer.text
    finally:
        await bot.stop()
    for method in PROFILE:  # tried once each: a flood wait is not waited out
        assert [c.status for c in fake_api.calls_to(method)] == [status] * (
            2 if method == "setMyCommands" else 1
        )
    warnings = [r for r in caplog.records if r.name == "ccin_bridge.bots.telegram.profile"]
    assert [r.getMessage() for r in warnings] == [
        f"Telegram: could not {what} ({said}); starting without it"
        for what in (
            "set the bot's description",
            "set the bot's short description",
            "publish the command list for private chats",
            "publish the command list for groups",
        )
    ]
    assert all(r.exc_info is None for r in warnings)  # one line each, no traceback
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_slow_server_delays_startup_but_never_stops_it(
    fake_api: FakeTelegramAPI, tg_bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    fake_api.slow("getMyDescription", 4)  # longer than the bot's read timeout of 2 s
    bot = _bot(fake_api, tg_bridge)
    with caplog.at_level(logging.WARNING, logger="ccin_bridge.bots.telegram"):
        await bot.start()
    try:
        [answer] = await Harness(fake_api, bot).say(ALICE, "/start")
        assert "welcome to the" in answer.text
    finally:
        await bot.stop()
    said = [r.getMessage() for r in caplog.records if r.name.endswith(".profile")]
    assert said == [
        "Telegram: could not set the bot's description (no answer in time); starting without it"
    ]
    assert fake_api.short_descriptions and fake_api.commands["all_group_chats"]
