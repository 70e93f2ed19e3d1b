"""Slack's HTTP endpoint on a port another program holds: one line naming the setting."""

from __future__ import annotations

import socket

import pytest

from ccin_bridge.bots.slack.adapter import SlackAdapter
from ccin_bridge.handlers.config import ConfigError
from ccin_bridge.handlers.core import Bridge
from tests.bots.slack.sender import SIGNING_SECRET
from tests.fakes.slack_api import FakeSlack


async def test_a_taken_port_is_a_clear_error_and_the_journal_is_left_alone(
    bridge: Bridge, fake: FakeSlack
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        adapter = SlackAdapter(
            bridge, bot_token=fake.token, signing_secret=SIGNING_SECRET, api_url=fake.api_url,
            host="127.0.0.1", port=port,
        )  # fmt: skip
        with pytest.raises(ConfigError) as failed:
            await adapter.start()
    assert str(failed.value).startswith(f"slack_http: cannot listen on 127.0.0.1:{port} (")
    assert not adapter.inbox.leading  # it stood down again
