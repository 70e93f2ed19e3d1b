"""Shared fixtures: the repo's real config, a real SQLite file and, when reachable, PostgreSQL.

PostgreSQL tests use a throwaway database on `CCIN_TEST_POSTGRES_URL` (default: the local
server). Where it is unreachable they are skipped with the reason, except under CI
(`CI=true`), where an unreachable server fails the run instead of silently skipping.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Settings, load_settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.requests import Request
from ccin_bridge.store import seed
from ccin_bridge.store.db import Database

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO.parent / "shared" / "seeds"
PG_ADMIN_URL = os.environ.get("CCIN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# A Sunday in November 2026: the next first Tuesday is 1 December 2026.
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(REPO / "config.yaml")


def _postgres_unreachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    reason = _postgres_unreachable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the PostgreSQL tests)")
        pytest.skip(reason)
    return PG_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"ccin_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres_server.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bridge.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a store test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def empty_db(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    await db.upgrade()
    yield db
    await db.close()


def _build_seeded(url: str) -> None:
    async def build() -> None:
        database = Database(url)
        await database.upgrade()
        async with database.session() as session:
            await seed.seed(session)
        await database.close()

    # In a thread of its own: an async fixture may ask for a template while its loop runs.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(asyncio.run, build()).result()


@pytest.fixture(scope="session")
def seeded_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate and seed once per run; each test gets its own copy of the file."""
    path = tmp_path_factory.mktemp("template") / "seeded.sqlite3"
    _build_seeded(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def seeded_postgres_template(postgres_server: str) -> Iterator[str]:
    """The same on PostgreSQL: a database each test copies with CREATE DATABASE ... TEMPLATE."""
    name = f"ccin_template_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        _build_seeded(f"{postgres_server.rsplit('/', 1)[0]}/{name}")
        yield name
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """Migrated and loaded with the network's reference data, on each backend: a copy of a
    template built once per run, so every test starts from the same state."""
    if request.param == "sqlite":
        copy = tmp_path / "bridge.sqlite3"
        shutil.copyfile(request.getfixturevalue("seeded_sqlite_template"), copy)
        database = Database(f"sqlite:///{copy}")
        yield database
        await database.close()
        return
    server: str = request.getfixturevalue("postgres_server")
    template: str = request.getfixturevalue("seeded_postgres_template")
    name = f"ccin_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    database = Database(f"{server.rsplit('/', 1)[0]}/{name}")
    try:
        yield database
    finally:
        await database.close()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def sqlite_db(seeded_sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    copy = tmp_path / "bridge.sqlite3"
    shutil.copyfile(seeded_sqlite_template, copy)
    database = Database(f"sqlite:///{copy}")
    yield database
    await database.close()


class Clock:
    """A settable clock, so date logic is tested on chosen days."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def bridge(settings: Settings, sqlite_db: Database, clock: Clock) -> Bridge:
    b = Bridge(settings, sqlite_db, all_commands(), clock=clock)
    await b.start()
    return b


ALICE = UserRef("terminal", "alice", display_name="Alice Example", username="alice")
DM = ChatRef("terminal", "dm-alice", is_private=True)


def ask(command: str, args: str = "", user: UserRef = ALICE) -> Request:
    return Request(user, ChatRef(user.platform, f"dm-{user.user_id}"), command, args)
