"""Engines, sessions and migrations. The store owns the database; nobody else opens one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, make_url
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ccin_bridge.store import sqlite_driver

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD_REVISION = "head"
# PostgreSQL advisory lock key ("ccinsetu"): migrating and first seeding, one process at a time.
SETUP_LOCK = 0x6363696E73657475
# The newest migration's revision, from the migrations' file names ("0010_…py" holds revision
# "0010"): a database already there is told by one query, without loading Alembic.
# tests/store/test_db.py holds it equal to Alembic's own head.
LATEST_REVISION = max(
    p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py")
)
TSV_INDEX = "ix_search_docs_tsv"
# SQLite connections that read beside the writer, at most (SQLAlchemy's default 5 + 10).
READERS = 15


class DatabaseURLError(ValueError):
    """DATABASE_URL is not something the store can use."""


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'ccin-bridge.sqlite3').as_posix()}"


def async_url(url: str) -> URL:
    """Map a plain `sqlite://` or `postgresql://` URL to the async driver the store uses."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseURLError(
            "DATABASE_URL is not a database URL (e.g. postgresql://user@host/db)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    raise DatabaseURLError(
        f"DATABASE_URL uses {backend!r}; the bridge supports sqlite and postgresql"
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers work while one writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
    # The driver's own BEGIN comes late and deferred; the "begin" listeners say how instead.
    dbapi_connection.isolation_level = None


def _sqlite_reader(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")  # a write in a read-only unit of work fails
    cursor.close()


def _begin(connection: Connection, statement: str) -> None:
    # Run with the unit of work's first statement, before it, in the same trip to the
    # connection's thread (store/sqlite_driver.py).
    adapted = connection.connection.dbapi_connection
    if isinstance(adapted, sqlite_driver.Connection):
        adapted.begin_with(statement)
    else:
        connection.exec_driver_sql(statement)


def _begin_writing(connection: Connection) -> None:
    # The write lock at once: a deferred transaction that read first and writes later fails
    # with "database is locked" (no busy wait helps) when another connection wrote between.
    _begin(connection, "BEGIN IMMEDIATE")


def _begin_reading(connection: Connection) -> None:
    _begin(connection, "BEGIN")  # one snapshot for the whole unit of work


class Database:
    """One async engine; units of work that write, and read-only ones.

    SQLite has one writer at a time: in this process writers take turns on a lock (so a
    burst of writes queues instead of failing), and other processes (the CLI) wait on
    SQLite's busy timeout. Readers run beside them. PostgreSQL needs neither.
    """

    def __init__(self, url: str) -> None:
        self.url = async_url(url)
        if self.url.get_backend_name() == "sqlite" and self.url.database not in (
            None,
            "",
            ":memory:",
        ):
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        if self.is_sqlite:
            # Two pools on one file: writers, and readers whose connections cannot write.
            # Both on aiosqlite, a trip to the connection's thread per statement (see there).
            self.engine: AsyncEngine = create_async_engine(self.url, module=sqlite_driver.Dbapi())
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _begin_writing)
            # Readers' connections are all kept: SQLAlchemy's default keeps 5 and closes any
            # of the 10 more it opens under load, so a busy bridge opened ~20 a second, each a
            # new thread, file and schema read. The same 15 at most, none closed.
            readers = create_async_engine(
                self.url,
                module=sqlite_driver.Dbapi(),
                pool_size=READERS,
                max_overflow=0,
            )
            event.listen(readers.sync_engine, "connect", _sqlite_reader)
            event.listen(readers.sync_engine, "begin", _begin_reading)
        else:
            # A server connection may have been dropped while pooled.
            self.engine = create_async_engine(
                self.url, pool_pre_ping=True, connect_args=_named(self.url)
            )
            readers = self.engine.execution_options(postgresql_readonly=True)
        self._read_engine = readers
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._readers = async_sessionmaker(readers, expire_on_commit=False)
        self._write_turn = asyncio.Lock() if self.is_sqlite else None
        self._writing: asyncio.Task[Any] | None = None
        self._held: set[AsyncConnection] = set()

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def safe_url(self) -> str:
        """The URL without its password (nor one given as a query parameter), for logs and
        messages."""
        return self.url.set(query=public_query(self.url)).render_as_string(hide_password=True)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: committed on success, rolled back on any error."""
        if self._write_turn is None:
            async with self._sessions() as session, session.begin():
                yield session
            return
        task = asyncio.current_task()
        if task is not None and task is self._writing:
            # Opened inside this task's own writing unit of work, it would wait for itself
            # (SQLite's one writer is the outer one): it may read, at once, but not write.
            async with self.read() as session:
                yield session
            return
        async with self._write_turn:
            self._writing = task
            try:
                async with self._sessions() as session, session.begin():
                    yield session
            finally:
                self._writing = None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work: runs beside writers, and any write in it fails."""
        async with self._readers() as session, session.begin():
            yield session

    async def upgrade(self, revision: str = HEAD_REVISION) -> None:
        """Migrate to `revision`, by default the newest; at the newest already, one query
        says so and Alembic is not loaded (it is, under the write lock, for any migration)."""
        if revision == HEAD_REVISION and await self.stored_revisions() == (LATEST_REVISION,):
            return
        async with self._writer() as connection:
            # Processes starting together on PostgreSQL take turns: the second waits here,
            # then finds nothing left to do (SQLite's writers take turns anyway).
            await _setup_lock(connection)
            await connection.run_sync(_run_alembic, "upgrade", revision)

    async def setup_turn(self, session: AsyncSession) -> None:
        """In a unit of work that sets up shared data (the first seeding), wait for any other
        process doing the same; held until the unit of work ends."""
        await _setup_lock(await session.connection())

    async def stored_revisions(self) -> tuple[str, ...]:
        """The revisions in Alembic's version table, read with one plain query (none before
        the first migration)."""
        try:
            async with self._read_engine.connect() as connection:
                result = await connection.exec_driver_sql("SELECT version_num FROM alembic_version")
                return tuple(sorted(str(v) for v in result.scalars()))
        except DBAPIError as exc:
            if _no_such_table(exc):  # before the first migration
                return ()
            raise  # unreachable, refused, not allowed: said at once, not after a second try

    async def downgrade(self, revision: str) -> None:
        async with self._writer() as connection:
            await connection.run_sync(_run_alembic, "downgrade", revision)

    @asynccontextmanager
    async def _writer(self) -> AsyncIterator[AsyncConnection]:
        async with contextlib.AsyncExitStack() as stack:
            if self._write_turn is not None:
                await stack.enter_async_context(self._write_turn)
            yield await stack.enter_async_context(self.engine.begin())

    async def current_revision(self) -> str | None:
        async with self._read_engine.connect() as connection:
            return await connection.run_sync(_current_revision)

    async def hold_connection(self) -> AsyncConnection:
        """A connection kept out of the pool for as long as a session-level state lasts (an
        advisory lock, LISTEN); `drop_connection` ends it, and so does `close`."""
        connection = await self.engine.connect()
        self._held.add(connection)
        return connection

    async def drop_connection(self, connection: AsyncConnection) -> None:
        """End a held connection's database session; it never goes back to the pool, where
        its lock or LISTEN would stay with it."""
        self._held.discard(connection)
        with contextlib.suppress(Exception):  # already gone with the server
            await connection.invalidate()
        with contextlib.suppress(Exception):
            await connection.close()

    async def give_back(self, connection: AsyncConnection) -> None:
        """A held connection that came to hold nothing: back to the pool."""
        self._held.discard(connection)
        await connection.close()

    async def close(self) -> None:
        for connection in list(self._held):
            await self.drop_connection(connection)
        await self.engine.dispose()
        if self.is_sqlite:  # its own pool (on PostgreSQL it shares the writers')
            await self._read_engine.dispose()


# What the drivers say when a database cannot be opened, as the operator should read it.
_CONNECT_PROBLEMS = (
    (re.compile(r'database "([^"]+)" does not exist'), 'database "{0}" does not exist'),
    (re.compile(r'role "([^"]+)" does not exist'), 'role "{0}" does not exist'),
    (re.compile(r'password authentication failed for user "([^"]+)"'), 'wrong password for "{0}"'),
    (re.compile(r"Connection refused"), "connection refused (is PostgreSQL running there?)"),
    (re.compile(r"failed to resolve host|Name or service not known"), "unknown host name"),
    (re.compile(r"timeout expired|timed out", re.IGNORECASE), "no answer (timed out)"),
    (re.compile(r"unable to open database file"), "the file cannot be created or opened"),
    (re.compile(r"database is locked"), "the file is locked by another program"),
)


_SECRET_PARAMETERS = frozenset({"password", "sslpassword", "passfile"})


def public_query(url: URL) -> dict[str, str | tuple[str, ...]]:
    """A URL's query parameters but those that are, or point at, a password."""
    return {k: v for k, v in url.query.items() if k.casefold() not in _SECRET_PARAMETERS}


def connect_problem(exc: BaseException) -> str:
    """Why a database could not be opened, in a few words that name no secret (the drivers'
    messages name the host, database and role, never the password)."""
    cause = getattr(exc, "orig", None) or exc
    message = str(cause)
    for pattern, said in _CONNECT_PROBLEMS:
        found = pattern.search(message)
        if found:
            return said.format(*found.groups())
    return type(cause).__name__


def _named(url: URL) -> dict[str, str]:
    """Our connections as pg_stat_activity shows them, `ccin-bridge@HOST:PID` (who leads:
    store/leadership.py), unless the URL names them itself."""
    if "application_name" in url.query:
        return {}
    return {"application_name": f"ccin-bridge@{socket.gethostname()}:{os.getpid()}"}


async def _setup_lock(connection: AsyncConnection) -> None:
    if connection.dialect.name == "postgresql":
        await connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SETUP_LOCK})")


def _no_such_table(exc: DBAPIError) -> bool:
    text = f"{type(exc.orig).__name__} {exc.orig}".casefold()
    return "no such table" in text or "undefinedtable" in text


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config  # Alembic is loaded only to migrate

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _run_alembic(connection: Connection, verb: str, revision: str) -> None:
    from alembic import command

    config = alembic_config(connection)
    if verb == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


def _current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def run_sync(coro: Any) -> Any:
    """Run a coroutine from synchronous CLI code."""
    return asyncio.run(coro)


def managed_by_orm(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic filter: the full-text index (FTS5 tables, the tsvector column) is raw DDL, and
    APScheduler creates and owns its job table."""
    if type_ == "table" and name is not None and name.startswith(("search_fts", "apscheduler")):
        return False
    return not ((type_ == "column" and name == "tsv") or (type_ == "index" and name == TSV_INDEX))
