"""The real Bolt app over HTTP, the real bridge on SQLite, a fake Slack Web API; all on 127.0.0.1.

Every message and view the adapter sends is checked by the fake as Slack would check it, and
each test ends by asserting none was refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from ccin_bridge.bots.slack.adapter import SlackAdapter
from ccin_bridge.handlers.core import Bridge
from tests.bots.slack.sender import ALICE, BOB, SIGNING_SECRET, SlackSender
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    fake.add_user(ALICE.id, ALICE.handle, "Alice Example")
    fake.add_user(BOB.id, BOB.handle, "Bob Sample")
    yield fake
    await fake.stop()
    # Whatever the test did, Slack would have taken every message and view the adapter sent.
    assert [(c.name, c.error, c.answer) for c in fake.bad_messages()] == []


def http_adapter(bridge: Bridge, fake: FakeSlack) -> SlackAdapter:
    """The real adapter over HTTP on a free local port, talking to the fake Web API."""
    return SlackAdapter(
        bridge,
        bot_token=fake.token,
        signing_secret=SIGNING_SECRET,
        api_url=fake.api_url,
        host="127.0.0.1",
        port=0,
    )


@pytest.fixture
async def adapter(bridge: Bridge, fake: FakeSlack) -> AsyncIterator[SlackAdapter]:
    adapter = http_adapter(bridge, fake)
    await adapter.start()
    yield adapter
    await adapter.stop()


@pytest.fixture
async def slack(adapter: SlackAdapter, fake: FakeSlack) -> AsyncIterator[SlackSender]:
    async with aiohttp.ClientSession() as session:
        yield SlackSender(session, adapter, fake)
