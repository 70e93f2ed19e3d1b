"""The Slack app manifest matches what the adapter serves and what it needs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ccin_bridge.bots.slack.modals import APPROVALS, BROADCAST
from ccin_bridge.bots.slack.platform import COMMAND
from ccin_bridge.bots.slack.server import EVENTS_PATH

MANIFEST = Path(__file__).resolve().parents[3] / "slack" / "manifest.yaml"
REQUEST_URL = "https://YOUR-HOST" + EVENTS_PATH


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_display_information_fits_slacks_limits() -> None:
    shown = manifest()["display_information"]
    assert 1 <= len(shown["name"]) <= 35
    assert 1 <= len(shown["description"]) <= 140
    assert 174 <= len(shown["long_description"]) <= 4000
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", shown["background_color"])


def test_every_request_url_is_the_adapters_one_path() -> None:
    app = manifest()
    (command,) = app["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert command["url"] == REQUEST_URL
    assert command["should_escape"] is False  # the adapter undoes Slack's escaping itself
    assert app["settings"]["event_subscriptions"]["request_url"] == REQUEST_URL
    assert app["settings"]["interactivity"] == {"is_enabled": True, "request_url": REQUEST_URL}
    assert app["settings"]["socket_mode_enabled"] is False
    assert app["features"]["bot_user"]["display_name"]


def test_scopes_and_events() -> None:
    app = manifest()
    assert set(app["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "im:write",
        "im:history",
        "app_mentions:read",
        "users:read",
        "channels:manage",
        "groups:write",
        "channels:read",
        "groups:read",
        "files:write",
        # relaying: read bound channels, fetch their files, post under the author's name
        "channels:history",
        "groups:history",
        "files:read",
        "chat:write.customize",
    }
    assert app["settings"]["event_subscriptions"]["bot_events"] == [
        "app_mention",
        "message.im",
        "message.channels",
        "message.groups",
        "member_joined_channel",
        "member_left_channel",
        "app_home_opened",
    ]
    # People reach the bot in its DM (message.im), so the messages tab must be open.
    assert app["features"]["app_home"]["messages_tab_enabled"] is True
    assert app["features"]["app_home"]["home_tab_enabled"] is True


def test_shortcuts_open_the_adapters_modals() -> None:
    shortcuts = manifest()["features"]["shortcuts"]
    assert {s["callback_id"] for s in shortcuts} == {BROADCAST, APPROVALS}
    for shortcut in shortcuts:
        assert shortcut["type"] == "global"
        assert 1 <= len(shortcut["name"]) <= 24
        assert 1 <= len(shortcut["description"]) <= 150
