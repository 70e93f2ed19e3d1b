"""Telegram updates through the inbound journal, with the real PTB Application and its rate
limiter against the fake Bot API: a busy group holds up no one else, an update PTB cannot read
is skipped once, and the webhook stores an update before it answers 200."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bots.telegram.adapter import TelegramBot
from bots.telegram.webhook import MAX_BODY, WebhookConfig
from handlers.core import Bridge
from store.models import InboundUpdate
from tests.bots.telegram.conftest import ALICE, DANA, GROUP, Harness
from tests.bots.telegram.test_webhook import PUBLIC_URL, SECRET, free_port
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


# --- the webhook ---------------------------------------------------------------------------


@pytest.fixture
async def hooked(
    fake_api: FakeTelegramAPI, tg_bridge: Bridge
) -> AsyncIterator[tuple[TelegramBot, str]]:
    hook = WebhookConfig(url=PUBLIC_URL, host="127.0.0.1", port=free_port(), secret=SECRET)
    bot = TelegramBot(tg_bridge, token=TOKEN, base_url=fake_api.base_url, webhook=hook)
    await bot.start()
    try:
        yield bot, f"http://127.0.0.1:{hook.port}/{hook.path}"
    finally:
        await bot.stop()


async def _post(url: str, data: bytes | io.BytesIO, secret: str | None = SECRET) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with aiohttp.ClientSession() as http, http.post(url, data=data, headers=headers) as r:
        return r.status


async def test_the_secret_is_checked_before_the_body_is_read(
    hooked: tuple[TelegramBot, str],
) -> None:
    _, url = hooked
    huge = b"{" + b" " * (2 * MAX_BODY) + b"}"
    assert await _post(url, io.BytesIO(huge), secret="wrong") == 403
    assert await _post(url, io.BytesIO(huge)) == 413


@pytest.mark.parametrize(
    "body", [b"not json", b"\xff\xfe", b"[1, 2]", b'{"message": {}}', b'{"update_id": "7"}']
)
async def test_a_body_that_is_no_update_gets_400_and_changes_nothing(
    fake_api: FakeTelegramAPI, hooked: tuple[TelegramBot, str], body: bytes
) -> None:
    bot, url = hooked
    assert await _post(url, body) == 400
    async with bot.bridge.db.read() as session:
        assert await session.scalar(select(InboundUpdate)) is None
    assert fake_api.sent == []


async def test_the_webhook_answers_200_only_once_the_update_is_stored(
    fake_api: FakeTelegramAPI, hooked: tuple[TelegramBot, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bot, url = hooked
    update = fake_api.new_update("message", fake_api.message(DANA, "/events"))
    real = bot.inbox.receive

    async def store_is_down(arrivals: Any) -> None:
        raise ConnectionError("database unavailable")

    monkeypatch.setattr(bot.inbox, "receive", store_is_down)
    data = json.dumps(update).encode()
    assert await _post(url, data) == 503  # Telegram will send it again
    monkeypatch.setattr(bot.inbox, "receive", real)
    assert await _post(url, data) == 200
    assert await _post(url, data) == 200  # a repeat is answered, and dropped
    async with asyncio.timeout(10):
        await bot.inbox.idle()
    assert len(fake_api.sent_to(DANA.id)) == 1
