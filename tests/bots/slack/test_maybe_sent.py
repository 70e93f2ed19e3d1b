"""A Slack send whose answer never came may have been posted: the outbox must hear so (it
retries it flagged in doubt), while a request that never reached Slack is retried as it is,
and neither is silently sent again inside the client."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from ccin_bridge.bots.slack.adapter import SlackAdapter
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import text
from ccin_bridge.scheduler.outbound import MaybeSent
from tests.fakes.slack_api import FakeSlack

CHANNEL = ChatRef("slack", "C0NEWS", is_private=False)


async def test_an_answer_that_comes_too_late_means_the_message_may_be_posted(
    adapter: SlackAdapter, fake: FakeSlack
) -> None:
    adapter.client.timeout = 1
    fake.slow("chat.postMessage", 3)
    with pytest.raises(MaybeSent):
        await adapter.send(chat=CHANNEL, reply=text("Officer Network on Tuesday"))
    # Slack did post it, and once: the client did not quietly try again.
    assert len(fake.delivered("chat.postMessage")) == 1


@pytest.mark.slow  # waits out real timeouts and retries
async def test_a_request_that_never_reached_slack_is_an_ordinary_failure(
    adapter: SlackAdapter,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    adapter.client.base_url = f"http://127.0.0.1:{port}/api/"
    with pytest.raises(aiohttp.ClientConnectorError):
        await adapter.send(chat=CHANNEL, reply=text("Officer Network on Tuesday"))
