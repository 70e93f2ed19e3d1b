"""Several processes on one PostgreSQL database: any may receive a platform's updates, one at a
time handles them (the platform's inbound leader), and another takes over when it goes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from ccin_bridge.handlers.inbox import Inbox
from ccin_bridge.store.db import Database
from ccin_bridge.store.inbox import Arrival, InboundItem

CHECK = 0.2  # seconds: how often a standby tries to lead, in these tests


def arrival(n: int, chat: str = "a") -> Arrival:
    return Arrival(key=f"u{n}", chat_key=chat, sender="alex", payload={"n": n})


class Process:
    """One bridge process's inbox on its own database connections, recording what it handled."""

    def __init__(self, name: str, url: str, handled: list[tuple[str, int]]) -> None:
        self.name = name
        self.db = Database(url)
        self.handled = handled
        self.inbox = Inbox(self.db, "example", self.process, lead_check_seconds=CHECK)
        self.leads = 0
        self.inbox.on_lead = self._led

    async def process(self, item: InboundItem) -> None:
        self.handled.append((self.name, int(item.payload["n"])))

    async def _led(self) -> None:
        self.leads += 1

    async def close(self) -> None:
        await self.inbox.stop(grace=1)
        await self.db.close()


async def until(condition: Callable[[], bool], within: float = 10) -> None:
    async with asyncio.timeout(within):
        while True:  # the two inboxes' own work, seen from outside: no event to wait on
            if condition():
                return
            await asyncio.sleep(0.02)


@pytest.fixture
async def two(
    postgres_url: str,
) -> AsyncIterator[tuple[Process, Process, list[tuple[str, int]]]]:
    migrating = Database(postgres_url)
    await migrating.upgrade()
    await migrating.close()
    url = postgres_url
    handled: list[tuple[str, int]] = []
    first, second = Process("first", url, handled), Process("second", url, handled)
    try:
        yield first, second, handled
    finally:
        await second.close()
        await first.close()


@pytest.mark.postgres
async def test_updates_a_standby_stores_are_handled_by_the_leader_once_in_order(
    two: tuple[Process, Process, list[tuple[str, int]]],
) -> None:
    first, second, handled = two
    await first.inbox.start()
    await second.inbox.start()
    assert first.inbox.leading and not second.inbox.leading
    assert (first.leads, second.leads) == (1, 0)  # Telegram polls in the leader alone
    await second.inbox.receive([arrival(1), arrival(2)])  # e.g. a webhook behind a balancer
    await first.inbox.receive([arrival(3)])
    await second.inbox.receive([arrival(4), arrival(1)])  # a repeat is dropped
    await until(lambda: len(handled) == 4)
    await asyncio.sleep(5 * CHECK)  # and nothing more comes of the leader's own checks
    assert sorted(handled) == [("first", 1), ("first", 2), ("first", 3), ("first", 4)]
    assert [n for _, n in handled] == [1, 2, 3, 4]  # one chat, in order


@pytest.mark.postgres
async def test_a_standby_takes_over_what_the_leader_left_when_it_goes(
    two: tuple[Process, Process, list[tuple[str, int]]],
) -> None:
    first, second, handled = two
    await first.inbox.start()
    await second.inbox.start()
    await first.inbox.stop(grace=1)  # the leader goes (kill -9 drops its lock the same way)
    await second.inbox.receive([arrival(1, "a"), arrival(2, "b")])  # stored while nobody leads
    await until(lambda: second.inbox.leading)
    await until(lambda: len(handled) == 2)
    assert sorted(handled) == [("second", 1), ("second", 2)]
    assert second.leads == 1
    await second.inbox.receive([arrival(3)])  # and now it handles what it receives itself
    await until(lambda: len(handled) == 3)
    assert handled[-1] == ("second", 3)


async def test_on_sqlite_the_one_process_leads_and_watches_nothing(sqlite_url: str) -> None:
    handled: list[tuple[str, int]] = []
    migrating = Database(sqlite_url)
    await migrating.upgrade()
    await migrating.close()
    only = Process("only", sqlite_url, handled)
    try:
        await only.inbox.start()
        assert only.inbox.leading and only.leads == 1
        assert only.inbox._watch is None  # no statement while idle
        await only.inbox.receive([arrival(1)])
        await until(lambda: handled == [("only", 1)])
    finally:
        await only.close()
