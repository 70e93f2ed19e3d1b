"""The platform registry: the core learns each platform from its adapter's entry, so a new
platform (the example adapter in tests/bots/example) needs no change in handlers/, store/ or
scheduler/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ccin_bridge.app import App, platform_services
from ccin_bridge.handlers import platforms
from ccin_bridge.handlers.config import Chats, ConfigError, Secrets, Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import parse_user_key
from ccin_bridge.handlers.membership import bound_chats, show
from tests.bots.example.adapter import PLATFORM, EchoBot


@pytest.fixture
def echo() -> Iterator[platforms.PlatformSpec]:
    platforms.register(PLATFORM)
    yield PLATFORM
    platforms.unregister(PLATFORM.name)


def test_the_installed_adapters_are_the_first_entries() -> None:
    known = platforms.registered()
    assert list(known) == ["slack", "teams", "telegram", "terminal"]
    assert known["slack"].show("help") == "/ccin help" and known["telegram"].show("help") == "/help"
    assert not known["terminal"].public and not known["terminal"].group_chats


def test_ids_are_checked_by_their_platform(echo: platforms.PlatformSpec) -> None:
    assert parse_user_key("echo:e7") == ("echo", "e7")
    assert parse_user_key("telegram:0123") == ("telegram", "123")
    with pytest.raises(ValueError, match="Echo ids look like e42"):
        parse_user_key("echo:ann")
    with pytest.raises(ValueError, match="one of echo, slack, teams, telegram, terminal"):
        parse_user_key("matrix:@ann:example.org")
    # Teams: Entra object ids, in lower case, or Bot Connector ids.
    guid = "0a0a0a0a-0000-4000-8000-00000000000A"
    assert parse_user_key(f"teams:{guid}") == ("teams", guid.lower())
    assert parse_user_key("teams:29:1abc") == ("teams", "29:1abc")
    with pytest.raises(ValueError, match="Entra object ids"):
        parse_user_key("teams:ada@example.org")


def test_a_new_platforms_chats_settings_and_secrets_need_no_core_change(
    echo: platforms.PlatformSpec, settings: Settings
) -> None:
    chats = Chats({"echo": ["room-1"], "telegram": ["-100200"]})
    group = settings.groups[0].model_copy(update={"chats": chats})
    assert {(c.platform, c.chat_id) for c in bound_chats(group)} == {
        ("echo", "room-1"),
        ("telegram", "-100200"),
    }
    assert show("echo", "join officers") == "!join officers"
    secrets = Secrets.from_env({"ECHO_TOKEN": "s3cret-echo-token", "OTHER": "x"})
    assert secrets.get("ECHO_TOKEN") == "s3cret-echo-token" and secrets.get("OTHER") is None
    assert "s3cret-echo-token" in secrets.credentials() and "s3cret" not in repr(secrets)


def test_chats_on_an_unknown_or_chatless_platform_are_refused() -> None:
    with pytest.raises(ValueError, match="'teams': chats can be on slack, telegram"):
        Chats({"teams": ["19:abc"]})
    with pytest.raises(ValueError, match="chats can be on"):
        Chats({"terminal": ["dm-ann"]})
    with pytest.raises(ValueError, match="Telegram chat ids are whole numbers"):
        Chats({"telegram": ["@officers"]})


async def test_the_example_adapter_talks_to_the_core(
    echo: platforms.PlatformSpec, bridge: Bridge
) -> None:
    bot = EchoBot(bridge)
    await bot.on_message("e1", "dm-e1", "!search food", private=True)
    await bot.on_message("e1", "dm-e1", "!serch food", private=True)
    found, unknown = bot.sent
    assert "Cooperative Approaches to Sustainable Food" in found[1]
    assert "Did you mean !search?" in unknown[1]  # the core writes commands as Echo types them


def test_registering_a_taken_name_is_refused(echo: platforms.PlatformSpec) -> None:
    with pytest.raises(ValueError, match="registered already"):
        platforms.register(platforms.PlatformSpec(name="echo", label="Other"))


async def test_the_registry_starts_a_platform_whose_credentials_are_set(
    echo: platforms.PlatformSpec, bridge: Bridge, tmp_path: Path
) -> None:
    def app(env: dict[str, str]) -> App:
        return App(bridge.settings, Secrets.from_env(env), bridge.db, bridge, tmp_path)

    assert platform_services(app({})) == []
    (bot,) = platform_services(app({"ECHO_TOKEN": "t0k"}), options={"echo": {"greeting": "hi"}})
    assert isinstance(bot, EchoBot) and (bot.token, bot.greeting) == ("t0k", "hi")
    with pytest.raises(ConfigError, match="ECHO_TOKEN is not set, but Echo options are"):
        platform_services(app({}), options={"echo": {"greeting": "hi"}})
