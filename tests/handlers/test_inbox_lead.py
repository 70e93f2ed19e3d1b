"""Several processes on one PostgreSQL database: any may receive a platform's updates, one at a
time handles them (the platform's inbound leader), and another takes over when it goes."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable

import psycopg
import pytest

from ccin_bridge.handlers.inbox import Inbox
from ccin_bridge.store import wakeups
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


@pytest.mark.postgres
async def test_a_leader_whose_lock_connection_dies_stands_down_without_blocking_the_loop(
    two: tuple[Process, Process, list[tuple[str, int]]], postgres_url: str
) -> None:
    """Its lock and its LISTEN connection end (a database restart, a proxy's timeout): it
    must stop handling before another takes over, and keep the event loop free meanwhile."""
    first, second = two[0], two[1]
    for process in (first, second):
        process.inbox.lead_check_seconds = 1.5
    stood_down = asyncio.Event()

    async def standby() -> None:
        stood_down.set()

    first.inbox.on_standby = standby
    await first.inbox.start()
    await second.inbox.start()
    pid = first.inbox._leadership.backend_pid
    assert first.inbox.leading and pid is not None
    ticks: list[float] = []

    async def tick() -> None:
        while True:
            ticks.append(asyncio.get_running_loop().time())
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    killer = await psycopg.AsyncConnection.connect(postgres_url, autocommit=True)
    try:
        await killer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND application_name LIKE 'ccin-bridge@%%' AND pid = %s",
            (pid,),
        )
        # The standby's try comes first, as it may: the lock is its own now.
        async with asyncio.timeout(5):
            while True:  # the server ends the killed session a moment later
                if await second.inbox._leadership.try_lead():
                    break
                await asyncio.sleep(0.05)
        async with asyncio.timeout(15):
            await stood_down.wait()
        await until(lambda: second.inbox.leading, within=15)
    finally:
        ticker.cancel()
        await killer.close()
    assert not first.inbox.leading
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps) < 1.0, max(gaps)  # never held the loop for a lead check's length


async def test_a_listener_that_is_not_listening_waits_rather_than_spins(sqlite_url: str) -> None:
    """A leader whose LISTEN connection could not be made again must not turn its watch into
    a loop that never yields (it froze the whole process for a lead check's length)."""
    db = Database(sqlite_url)
    try:
        listener = wakeups.Listener(db, wakeups.INBOUND)
        await listener.start()  # SQLite: nothing to listen on
        assert not listener.listening
        loop = asyncio.get_running_loop()
        began = loop.time()
        assert await listener.wait(within=0.2) == []
        assert loop.time() - began >= 0.15
    finally:
        await db.close()
