"""Telegram updates through the inbound journal, with the real PTB Application and its rate
limiter against the fake Bot API: a busy group holds up no one else, an update PTB cannot read
is skipped once, and the webhook stores an update before it answers 200."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy import select

from ccin_bridge.bots.telegram.adapter import TelegramBot
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.store.models import InboundUpdate
from tests.bots.telegram.conftest import ALICE, GROUP, Harness
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, TgUser

ERIN = TgUser(1005, "Erin", "Elsewhere", username="erin")


async def test_a_group_waiting_for_its_send_limit_holds_up_no_other_chat(
    telegram: Harness,
) -> None:
    api = telegram.api
    api.add_group(GROUP, {ALICE.id: "member"})
    # Telegram allows a group 20 messages a minute: PTB's limiter makes the rest wait.
    for _ in range(26):
        await api.push_message(ALICE, "/events@ccin_test_bot", GROUP)
    dm = await api.push_message(ERIN, "/events")
    await api.wait_confirmed(dm)
    await api.wait_for(lambda: bool(api.sent_to(ERIN.id)), within=10)
    # Answered while the group's later commands are still waiting their turn.
    assert len(api.sent_to(GROUP.id)) < 26


async def test_an_update_ptb_cannot_read_is_skipped_once_and_the_next_is_answered(
    telegram: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    api = telegram.api
    with caplog.at_level(logging.INFO):
        broken = await api.push("message", {"message_id": 7, "text": "Alice's secret plans"})
        [reply] = await telegram.say(ALICE, "/suppliers solicitors")
        await telegram.settle(broken)
    assert "Anthony Collins Solicitors" in reply.text
    async with telegram.bot.bridge.db.read() as session:
        row = await session.scalar(select(InboundUpdate).where(InboundUpdate.key == str(broken)))
    assert row is not None and row.status == "skipped" and row.payload is None
    assert "could not be read (KeyError)" in caplog.text
    assert "secret plans" not in caplog.text
    assert sum("could not be read" in r.getMessage() for r in caplog.records) == 1


async def test_a_restarted_bot_answers_what_the_last_one_stored_but_did_not_handle(
    fake_api: FakeTelegramAPI, tg_bridge: Bridge
) -> None:
    first = TelegramBot(tg_bridge, token=TOKEN, base_url=fake_api.base_url, poll_timeout=1)
    gate = asyncio.Event()

    async def stuck(item: Any) -> None:
        await gate.wait()  # handling never finishes: the process is about to die

    first.inbox.process = stuck
    await first.start()
    pushed = [await fake_api.push_message(ALICE, f"/search food {n}") for n in range(3)]
    await fake_api.wait_confirmed(pushed[-1])  # Telegram forgets them now: they are ours
    await first.stop(grace=0.1)
    assert fake_api.sent_to(ALICE.id) == []

    second = TelegramBot(tg_bridge, token=TOKEN, base_url=fake_api.base_url, poll_timeout=1)
    await second.start()
    try:
        async with asyncio.timeout(20):
            await second.inbox.idle()
    finally:
        await second.stop()
    assert len(fake_api.sent_to(ALICE.id)) == 3  # each answered, once
