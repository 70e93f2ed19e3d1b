"""What the store does on every request costs as few trips as it can, and stays correct:
the SQLite driver's one trip per statement, Core queries built once that still see the unit's
own work, accounts that write only what changed, and a relaxed search counted with the strict
one."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from ccin_bridge.store import audit, people, search, subscriptions
from ccin_bridge.store.db import READERS, Database
from ccin_bridge.store.models import AuditEntry, Identity, Subscription


@contextmanager
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The calls made into aiosqlite's connection threads meanwhile."""
    made: list[str] = []
    original: Callable[..., Awaitable[Any]] = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Callable[..., Any], *a: Any) -> Any:
        made.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *a)

    with monkeypatch.context() as patch:
        patch.setattr(aiosqlite.Connection, "_execute", counted)
        yield made


@contextmanager
def statements(*engines: AsyncEngine) -> Iterator[list[str]]:
    """The SQL sent to the database meanwhile."""
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        sent.append(" ".join(sql.split()))

    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", note)


def _count() -> Any:
    return select(func.count()).select_from(AuditEntry)


async def test_a_sqlite_unit_of_work_is_a_trip_per_statement_and_one_to_end(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    for unit in (sqlite_db.read, sqlite_db.session):  # connect both pools first
        async with unit() as session:
            await session.scalar(_count())
    for unit in (sqlite_db.read, sqlite_db.session):
        with trips(monkeypatch) as made:
            async with unit() as session:
                await session.scalar(_count())
                await session.scalar(_count())
        assert len(made) == 3  # BEGIN rides with the first statement; then the commit
        with trips(monkeypatch) as made:
            async with unit():
                pass
        assert made == []  # nothing begun, nothing to end


async def test_sqlite_readers_keep_their_connections_under_load(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As many readers at once as the pool allows, twice: the second round opens nothing (a
    connection opened and closed per busy moment was a thread, a file and a schema read)."""
    opened: list[object] = []
    original = aiosqlite.Connection._connect

    async def counted(self: aiosqlite.Connection) -> aiosqlite.Connection:
        opened.append(self)
        return await original(self)

    monkeypatch.setattr(aiosqlite.Connection, "_connect", counted)

    async def together() -> None:
        all_in = asyncio.Barrier(READERS)

        async def one() -> None:
            async with sqlite_db.read() as session:
                await session.scalar(_count())
                await all_in.wait()  # every reader holds its connection at once

        await asyncio.gather(*(one() for _ in range(READERS)))

    await together()
    assert len(opened) == READERS
    await together()
    assert len(opened) == READERS


async def test_a_sqlite_writer_holds_the_write_lock_from_its_first_read(
    sqlite_db: Database,
) -> None:
    path = sqlite_db.url.database
    assert path is not None
    async with sqlite_db.session() as session:
        await session.scalar(_count())  # a read, yet BEGIN IMMEDIATE came before it
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()


async def test_a_sqlite_reader_keeps_one_snapshot(sqlite_db: Database) -> None:
    async with sqlite_db.read() as reader:
        before = await reader.scalar(_count())
        async with sqlite_db.session() as writer:
            await audit.record(writer, actor_id=None, action="test.meanwhile")
        assert await reader.scalar(_count()) == before
    async with sqlite_db.read() as reader:
        assert await reader.scalar(_count()) == (before or 0) + 1


async def test_a_failed_first_statement_leaves_the_connection_usable(sqlite_db: Database) -> None:
    for unit in (sqlite_db.read, sqlite_db.session):
        with pytest.raises(DBAPIError):
            async with unit() as session:
                await session.execute(select(func.no_such_function()))
        async with unit() as session:
            assert await session.scalar(_count()) is not None


async def test_queries_built_once_see_what_the_unit_of_work_added(db: Database) -> None:
    async with db.session() as session:
        person = await people.touch_identity(
            session, platform="terminal", external_id="pat", display_name="Pat", username=None
        )
    async with db.session() as session:
        session.add(Subscription(person_id=person.id, topic="reminders", wanted=True))
        assert await subscriptions.topics_of(session, person.id) == {"reminders": True}
        assert not await subscriptions.set_wanted(session, person.id, "reminders", True)
        assert await subscriptions.set_wanted(session, person.id, "reminders", False)
        stored = await session.scalar(select(Subscription).where(Subscription.topic == "reminders"))
        assert stored is not None and stored.wanted is False  # the loaded object is updated too


async def test_a_known_account_with_the_same_names_writes_nothing(db: Database) -> None:
    fields: dict[str, Any] = dict(
        platform="telegram", external_id="77", display_name="Quinn", username="quinn"
    )
    async with db.session() as session:
        await people.account(session, **fields)
    with statements(db.engine) as sent:
        async with db.session() as session:
            caller = await people.account(session, **fields)
    assert caller.person.display_name == "Quinn"
    assert len(sent) == 1 and sent[0].startswith("SELECT")


async def test_a_renamed_account_keeps_every_name_it_had(db: Database) -> None:
    async with db.session() as session:
        ann = await people.touch_identity(
            session, platform="telegram", external_id="78", display_name="Ann", username="ann"
        )
    async with db.session() as session:  # a name set other than by a request (a link)
        await session.execute(
            update(Identity).where(Identity.external_id == "78").values(display_name="Annie")
        )
    async with db.session() as session:
        again = await people.touch_identity(
            session, platform="telegram", external_id="78", display_name="Ann B", username="ann"
        )
    async with db.session() as session:
        data = await people.export_person(session, ann.id)
    assert again.id == ann.id
    [identity] = data["identities"]
    assert identity["display_name"] == "Ann B"
    assert identity["names_seen"] == ["Ann", "Ann B", "Annie", "ann"]


async def test_a_relaxed_search_is_counted_with_the_strict_one(sqlite_db: Database) -> None:
    async with sqlite_db.read() as session:
        await search.search(session, "community")  # loads the vocabulary for corrections
        with statements(sqlite_db._read_engine) as sent:
            page = await search.search(session, "community zzyzxq")
    assert page.relaxed and page.total > 0 and page.hits
    assert len(sent) == 2  # the counts of every word and of some word, then the page


async def test_a_streamed_first_statement_begins_the_unit_too(sqlite_db: Database) -> None:
    async with sqlite_db.read() as reader:
        streamed = await (await reader.stream(select(AuditEntry.id))).all()
        async with sqlite_db.session() as writer:
            await audit.record(writer, actor_id=None, action="test.meanwhile")
        assert await reader.scalar(_count()) == len(streamed)  # the stream's snapshot
    path = sqlite_db.url.database
    assert path is not None
    async with sqlite_db.session() as session:
        await (await session.stream(select(AuditEntry.id))).all()
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
