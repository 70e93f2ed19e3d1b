"""Webhook mode: the bridge serves its webhook on a local port, registers it with setWebhook
(answered by the fake), and handles only POSTs carrying the secret, once stored."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from ccin_bridge.bots.telegram.adapter import ALLOWED_UPDATES, TelegramBot
from ccin_bridge.bots.telegram.platform import DEFAULT_LISTEN
from ccin_bridge.bots.telegram.webhook import (
    MAX_BODY,
    WebhookConfig,
    parse_listen,
    webhook_config,
)
from ccin_bridge.handlers.config import ConfigError
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.store.models import InboundUpdate
from tests.bots.telegram.conftest import ALICE, DANA
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI

PUBLIC_URL = "https://bridge.example.org/telegram/hook"
SECRET = "s3cret_webhook-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


async def post(url: str, update: dict[str, Any], headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=update, headers=headers) as response,
    ):
        return response.status


async def test_the_webhook_is_registered_with_the_secret_and_no_polling(
    fake_api: FakeTelegramAPI, hooked: tuple[TelegramBot, str]
) -> None:
    assert fake_api.webhook is not None
    assert fake_api.webhook["url"] == PUBLIC_URL
    assert fake_api.webhook["secret_token"] == SECRET
    assert fake_api.webhook["allowed_updates"] == list(ALLOWED_UPDATES)
    assert fake_api.calls_to("getUpdates") == []


async def test_an_update_with_the_secret_is_handled(
    fake_api: FakeTelegramAPI, hooked: tuple[TelegramBot, str]
) -> None:
    bot, url = hooked
    update = fake_api.new_update("message", fake_api.message(ALICE, "/suppliers solicitors"))
    status = await post(url, update, {"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert status == 200
    async with asyncio.timeout(10):
        await bot.inbox.idle()
    assert "Anthony Collins Solicitors" in "\n".join(m.text for m in fake_api.sent_to(ALICE.id))


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {"X-Telegram-Bot-Api-Secret-Token": ""}],
)
async def test_an_update_without_the_right_secret_is_refused_and_changes_nothing(
    fake_api: FakeTelegramAPI, hooked: tuple[TelegramBot, str], headers: dict[str, str]
) -> None:
    bot, url = hooked
    update = fake_api.new_update("message", fake_api.message(ALICE, "/start"))
    calls = len(fake_api.calls)
    assert await post(url, update, headers) == 403
    async with asyncio.timeout(10):
        await bot.inbox.idle()
    assert fake_api.sent == [] and len(fake_api.calls) == calls
    # The same update with the secret goes through: the refusal was the header's doing.
    assert await post(url, update, {"X-Telegram-Bot-Api-Secret-Token": SECRET}) == 200


def test_webhook_options_are_checked_before_anything_starts() -> None:
    config = webhook_config(PUBLIC_URL, "0.0.0.0:8443", "abc_DEF-123")
    assert (config.host, config.port, config.path) == ("0.0.0.0", 8443, "telegram/hook")
    assert SECRET not in repr(webhook_config(PUBLIC_URL, None, SECRET))
    made_up = webhook_config(PUBLIC_URL, None, None)
    assert (
        len(made_up.secret) >= 32
        and made_up.secret != webhook_config(PUBLIC_URL, None, None).secret
    )
    assert (made_up.host, made_up.port) == parse_listen(DEFAULT_LISTEN)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_listen("9000") == ("127.0.0.1", 9000)
    with pytest.raises(ConfigError, match="https://"):
        webhook_config("http://bridge.example.org/hook", None, None)
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        webhook_config(PUBLIC_URL, None, "has spaces!")
    with pytest.raises(ConfigError, match="--telegram-listen"):
        webhook_config(PUBLIC_URL, "localhost:http", None)
    with pytest.raises(ConfigError, match="--telegram-listen"):
        parse_listen("127.0.0.1:70000")


# --- what the server takes before it answers ------------------------------------------------


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


async def test_a_secret_that_is_not_text_and_a_body_nested_beyond_reason_are_refused(
    hooked: tuple[TelegramBot, str],
) -> None:
    _, url = hooked
    assert await _post(url, b"{}", secret="s\u00e9cret\udcff") == 403
    deep = b'{"update_id": 1, "message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert await _post(url, io.BytesIO(deep)) == 400
