"""Slack requests through the inbound journal, with the real Bolt app over HTTP: verified before
anything reads them, stored before the 200, answered once however often they come, and taken
up again by the next start."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from ccin_bridge.bots.slack.adapter import SlackAdapter
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.store.models import InboundUpdate
from tests.bots.slack.conftest import http_adapter
from tests.bots.slack.sender import ALICE, SlackSender, direct_message, sign
from tests.fakes.slack_api import FakeSlack

FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("timestamp", ["soon", "1e9", "", " ", "12:00", "-5"])
async def test_a_timestamp_that_is_no_number_gets_401_and_nothing_else(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, timestamp: str
) -> None:
    body = slack.command_body("search food", "unverified")
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign(body, 0),
    }
    async with slack.session.post(adapter.url, data=body, headers=headers) as response:
        assert response.status == 401
    await adapter.drain()
    # No answer on the response_url, no DM, no conversations.open: nothing at all.
    assert fake.calls == []


async def test_a_replayed_slash_command_is_answered_once(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack
) -> None:
    body = slack.command_body("subscribe announcements", "replayed")
    first = await slack.post(body, FORM)
    again = await slack.post(body, FORM)  # the same signed request, within the five minutes
    assert first.status == again.status == 200
    await adapter.drain()
    [answer] = fake.responses("replayed")
    assert "now subscribed" in answer.text


async def test_the_200_comes_only_once_the_request_is_stored(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = adapter.inbox.receive

    async def store_is_down(arrivals: Any) -> None:
        raise ConnectionError("database unavailable")

    monkeypatch.setattr(adapter.inbox, "receive", store_is_down)
    event = slack.event_body(direct_message("events"), "Ev0STOREDOWN")
    assert (await slack.post(event, "application/json")).status == 503
    await adapter.drain()
    assert fake.calls == []
    monkeypatch.setattr(adapter.inbox, "receive", real)
    # Slack retries the event; now it is stored, acknowledged and answered, once.
    for retry in ("1", "2"):
        answer = await slack.post(event, "application/json", headers={"X-Slack-Retry-Num": retry})
        assert answer.status == 200
    await adapter.drain()
    assert len(fake.delivered("chat.postMessage")) == 1


async def test_a_restart_answers_what_was_stored_and_still_drops_repeats(
    bridge: Bridge, fake: FakeSlack, slack: SlackSender, adapter: SlackAdapter
) -> None:
    gate = asyncio.Event()

    async def stuck(item: Any) -> None:
        await gate.wait()  # the process dies before handling it

    adapter.inbox.process = stuck
    event = slack.event_body(direct_message("suppliers solicitors"), "Ev0RESTART1")
    assert (await slack.post(event, "application/json")).status == 200
    await adapter.stop(grace=0.1)
    assert fake.delivered("chat.postMessage") == []

    restarted = http_adapter(bridge, fake)
    await restarted.start()
    try:
        await restarted.drain()
        [answer] = fake.delivered("chat.postMessage")
        assert "Anthony Collins Solicitors" in answer.text
        # Slack retries the event it has had no 200 for... but it had one: dropped anyway.
        again = SlackSender(slack.session, restarted, fake)
        assert (await again.post(event, "application/json")).status == 200
        await restarted.drain()
        assert len(fake.delivered("chat.postMessage")) == 1
    finally:
        await restarted.stop()


async def test_a_form_submission_is_answered_in_the_response_itself(
    slack: SlackSender, adapter: SlackAdapter
) -> None:
    # view_submission wants its answer (errors, or the next view) in the HTTP response, so it
    # goes to Bolt at once rather than through the journal.
    answer = await slack.interactive(
        {
            "type": "view_submission",
            "user": {"id": ALICE.id, "username": ALICE.handle, "team_id": "T0CCIN"},
            "view": {
                "id": "V0NOPE",
                "type": "modal",
                "callback_id": "not-ours",
                "state": {"values": {}},
            },
        }
    )
    assert answer.status in (200, 404)
    async with adapter.bridge.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(InboundUpdate)) == 0


async def test_one_persons_events_are_answered_in_order_and_done_only_once_answered(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack
) -> None:
    fake.slow("chat.postMessage", 1.5)  # the first answer takes a while to go out
    first = slack.event_body(direct_message("events"), "Ev0ORDER01")
    second = slack.event_body(direct_message("help"), "Ev0ORDER02")
    assert (await slack.post(first, "application/json")).status == 200
    assert (await slack.post(second, "application/json")).status == 200
    await fake.wait_for(lambda: bool(fake.api_calls("chat.postMessage")))
    async with adapter.bridge.db.read() as session:
        open_now = await session.scalar(
            select(func.count())
            .select_from(InboundUpdate)
            .where(InboundUpdate.status.in_(("pending", "handled")))
        )
    assert open_now == 2  # the first is being answered, the second waits behind it
    await adapter.drain()
    answers = [c.text for c in fake.delivered("chat.postMessage")]
    assert len(answers) == 2
    assert "Upcoming events" in answers[0] and "What I can do" in answers[1]
