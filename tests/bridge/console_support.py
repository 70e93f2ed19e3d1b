"""Shared by the console's HTTP tests: a console on a test bridge, a cookie-keeping client,
and signing in with the code the bot was asked to send."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from sqlalchemy import select

from ccin_bridge.console.server import ConsoleListener, start_console
from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.store import people
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Delivery, Push
from tests.conftest import Clock
from tests.handlers.groups_support import ADMIN, make_bridge, say

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
PAYLOAD_FIELD = re.compile(r'name="payload" value="([^"]+)"')


@dataclass
class Site:
    bridge: Bridge
    db: Database
    clock: Clock
    url: str
    listener: ConsoleListener


@pytest.fixture
async def site(settings: Settings, db: Database, clock: Clock) -> AsyncIterator[Site]:
    # The right as `admin grant` stores it, on the account (not in config), so it can go.
    bridge = await make_bridge(settings, db, clock, admins=[])
    async with db.session() as session:
        await people.set_admin(
            session, platform="telegram", external_id=ADMIN.user_id, is_admin=True
        )
    await say(bridge, ADMIN, "/help")  # the bot has met the admin's account and their name
    listener: ConsoleListener = await start_console(bridge, "127.0.0.1", 0)
    try:
        yield Site(bridge, db, clock, f"http://127.0.0.1:{listener.port}/", listener)
    finally:
        await listener.stop()


def browser() -> aiohttp.ClientSession:
    # unsafe: cookies for an IP address host, as a browser keeps them for 127.0.0.1
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def codes_sent(db: Database) -> list[tuple[str, str]]:
    """(chat, code) of each sign-in code the bot was asked to send, oldest first."""
    async with db.read() as session:
        rows = await session.execute(
            select(Delivery.chat_id, Push.payload)
            .join(Push, Push.id == Delivery.push_id)
            .where(Push.title == "Console sign-in code")
            .order_by(Push.id)
        )
        found = []
        for chat_id, payload in rows:
            said = reply_codec.decode(payload).plain_text
            match = re.search(r"\b([2-9A-Z]{4}-[2-9A-Z]{4})\b", said)
            assert match, said
            found.append((chat_id, match.group(1)))
        return found


async def csrf_of(client: aiohttp.ClientSession, url: str) -> str:
    async with client.get(url) as page:
        assert page.status == 200
        match = CSRF_FIELD.search(await page.text())
        assert match
        return match.group(1)


async def ask_code(
    client: aiohttp.ClientSession, site: Site, handle: str
) -> aiohttp.ClientResponse:
    csrf = await csrf_of(client, site.url + "sign-in")
    async with client.post(
        site.url + "sign-in", data={"csrf": csrf, "handle": handle}, allow_redirects=False
    ) as sent:
        await site.listener.site.settle()  # the code goes out in the background
        return sent


async def enter_code(
    client: aiohttp.ClientSession, site: Site, code: str
) -> aiohttp.ClientResponse:
    csrf = await csrf_of(client, site.url + "code")
    async with client.post(
        site.url + "code", data={"csrf": csrf, "code": code}, allow_redirects=False
    ) as answer:
        await answer.read()
        return answer


async def signed_in(client: aiohttp.ClientSession, site: Site) -> str:
    sent = await ask_code(client, site, "@Ada_Admin")
    assert sent.status == 303
    code = (await codes_sent(site.db))[-1][1]
    answer = await enter_code(client, site, code)
    assert answer.status == 303, await answer.text()
    return code
