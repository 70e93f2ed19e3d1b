"""The Telegram adapter's harness: the real PTB Application polling a local fake Bot API.

Nothing here may reach the internet: name resolution is limited to the loopback interface for
every test in this package, so a mistaken base URL fails loudly instead of calling Telegram.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ccin_bridge.bots.telegram.adapter import TelegramBot
from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Chats, Settings
from ccin_bridge.handlers.core import Bridge, Command, Context
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic, link
from ccin_bridge.store.db import Database
from tests.conftest import Clock
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, SentMessage, TgChat, TgUser

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ALICE = TgUser(1001, "Alice", "Example", username="alice")
BOB = TgUser(1002, "Bob", "Blocked", username="bob")
CAROL = TgUser(1003, "Carol <Council> & Co")  # never opened a private chat with the bot
DANA = TgUser(1004, "Dana", "Admin", username="dana")  # a network admin by config
GROUP = TgChat(-100200300, "supergroup", title="CCIN Officers")  # bound to officers
OLD_GROUP = TgChat(-4000123, "group", title="CCIN Leaders")  # bound to leaders, then migrated
NEW_GROUP = TgChat(-1004000123, "supergroup", title="CCIN Leaders")


def long_reply(kind: str) -> Reply:
    """Far over 4096 characters, full of characters HTML must escape, and emoji."""
    builder = ReplyBuilder().heading("A long answer about <tags> & “quotes”")
    if kind == "line":  # one paragraph with spaces but no line breaks
        builder.para(
            *[
                span
                for n in range(900)
                for span in (Span(f" word{n} <&> " if n else "word0 <&> "), italic("🙂"))
            ]
        )
    elif kind == "word":  # no break at all: it must be cut mid-word, outside any entity
        builder.para(Span("&<>🙂" * 3000, bold=True))
    else:
        for n in range(80):
            builder.para(
                f"{n:02d}. ",
                bold("<b>not a tag</b> & co"),
                " 🙂🇬🇧 ",
                link("a & b", "https://example.org/?a=1&b=<2>"),
                " ",
                Span("x < y", code=True),
                italic(" — some filler so that the paragraphs add up"),
            )
    return builder.buttons(Button("Again", "long")).build()


async def _long(ctx: Context) -> Reply:
    return long_reply(ctx.args)


LONG = Command("long", "A very long test answer", _long)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in LOOPBACK:
            raise OSError(f"test tried to reach {name!r}; only loopback hosts are allowed")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api
    # Telegram would have refused any of these: the adapter must never send one. (Only
    # answers a test arranged on purpose, such as an injected fault, are left out.)
    refused = [(c.method, c.description) for c in api.refusals()]
    assert refused == [], refused


def with_chats(settings: Settings) -> Settings:
    """The repo's config with real Telegram groups bound, and Dana as an admin."""
    bound = {"officers": [GROUP.id], "leaders": [OLD_GROUP.id]}
    groups = [
        g.model_copy(update={"chats": Chats({**g.chats.root, "telegram": bound[g.slug]})})
        if g.slug in bound
        else g
        for g in settings.groups
    ]
    return settings.model_copy(
        update={"groups": groups, "admins": [*settings.admins, f"telegram:{DANA.id}"]}
    )


@pytest.fixture
async def tg_bridge(settings: Settings, sqlite_db: Database, clock: Clock) -> Bridge:
    bridge = Bridge(with_chats(settings), sqlite_db, [*all_commands(), LONG], clock=clock)
    await bridge.start()
    return bridge


class Harness:
    """Push updates into the fake, wait until the bot has handled them, see what it sent."""

    def __init__(self, api: FakeTelegramAPI, bot: TelegramBot) -> None:
        self.api = api
        self.bot = bot

    # The answers: in the chat where the user typed or pressed, and in their private chat (a
    # private answer to a group command). A push the outbox sends to someone else meanwhile
    # (a notice, a card) is not one of them, however it is timed.
    async def say(self, user: TgUser, text: str, chat: TgChat | None = None) -> list[SentMessage]:
        before = len(self.api.sent)
        await self.settle(await self.api.push_message(user, text, chat))
        where = chat.id if chat is not None else user.id
        return [m for m in self.api.sent[before:] if m.chat_id in (where, user.id)]

    async def press(self, user: TgUser, message: SentMessage, label: str) -> list[SentMessage]:
        before = len(self.api.sent)
        await self.settle(await self.api.press(user, message, label))
        return [m for m in self.api.sent[before:] if m.chat_id in (message.chat_id, user.id)]

    async def settle(self, update_id: int) -> None:
        # Once the bot asks for the updates after this one, it has stored it; idle() returns
        # when everything stored has been handled (replies sent, errors logged).
        await self.api.wait_confirmed(update_id)
        async with asyncio.timeout(10):
            await self.bot.inbox.idle()


@pytest.fixture
async def telegram(fake_api: FakeTelegramAPI, tg_bridge: Bridge) -> AsyncIterator[Harness]:
    bot = TelegramBot(
        tg_bridge,
        token=TOKEN,
        base_url=fake_api.base_url,
        poll_timeout=2,
        connect_timeout=2,
        read_timeout=5,
    )
    await bot.start()
    try:
        yield Harness(fake_api, bot)
    finally:
        await bot.stop()
