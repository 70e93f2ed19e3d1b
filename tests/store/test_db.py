"""Migrations and the engine, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select
from sqlalchemy import text as sa_text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ccin_bridge.store import audit
from ccin_bridge.store.db import (
    LATEST_REVISION,
    Database,
    DatabaseURLError,
    alembic_config,
    async_url,
    managed_by_orm,
)
from ccin_bridge.store.models import AuditEntry, Base, Identity


async def test_upgrade_creates_every_model_table(empty_db: Database) -> None:
    async with empty_db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert set(Base.metadata.tables) <= tables
    assert await empty_db.current_revision() is not None


async def test_models_and_migrations_agree(empty_db: Database) -> None:
    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"include_object": managed_by_orm})
        return list(compare_metadata(context, Base.metadata))

    async with empty_db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_downgrade_to_base_and_back(empty_db: Database) -> None:
    await empty_db.downgrade("base")
    async with empty_db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert not set(Base.metadata.tables) & tables
    await empty_db.upgrade()
    assert await empty_db.current_revision() is not None


async def test_datetimes_come_back_aware_utc(empty_db: Database) -> None:
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=1)))
    async with empty_db.session() as session:
        session.add(AuditEntry(at=moment, action="test", detail={"k": "ü"}))
    async with empty_db.session() as session:
        entry = await session.scalar(select(AuditEntry))
    assert entry is not None
    assert entry.at == moment and entry.at.tzinfo == UTC
    assert entry.detail == {"k": "ü"}


async def test_naive_datetimes_are_refused(empty_db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with empty_db.session() as session:
            session.add(AuditEntry(at=datetime(2026, 1, 1), action="x", detail={}))  # noqa: DTZ001


def test_url_mapping() -> None:
    assert async_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert async_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert async_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    with pytest.raises(DatabaseURLError, match="supports sqlite and postgresql"):
        async_url("mysql://u@h/db")
    with pytest.raises(DatabaseURLError, match="not a database URL"):
        async_url("not a url")


def test_safe_url_hides_the_password() -> None:
    db = Database("postgresql://bridge:hunter2@127.0.0.1/x")
    assert "hunter2" not in db.safe_url


async def test_units_of_work_that_read_then_write_concurrently_all_commit(
    empty_db: Database,
) -> None:
    """On SQLite a deferred transaction would fail here with "database is locked"."""

    async def unit(n: int) -> None:
        async with empty_db.session() as session:
            await session.scalar(select(func.count()).select_from(AuditEntry))
            await asyncio.sleep(0.05)  # the other units read meanwhile (if they may)
            await audit.record(session, actor_id=None, action="test.unit", n=n)

    await asyncio.gather(*(unit(n) for n in range(4)))
    async with empty_db.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "test.unit")
        )
    assert count == 4


async def test_a_session_opened_inside_another_can_read_at_once(empty_db: Database) -> None:
    async with empty_db.session() as outer:
        await audit.record(outer, actor_id=None, action="test.outer")
        await outer.flush()
        async with asyncio.timeout(2), empty_db.session() as inner:  # no wait on outer's lock
            assert await inner.scalar(select(func.count()).select_from(AuditEntry)) == 0
        assert await empty_db.current_revision() is not None


@pytest.mark.slow  # waits out real timeouts and retries
async def test_a_burst_of_writers_longer_than_the_busy_timeout_all_commit(
    empty_db: Database,
) -> None:
    """On SQLite each writer holds the one write lock; without turns in this process the ones
    still waiting after the 5 s busy timeout failed with "database is locked"."""

    async def unit(n: int) -> None:
        async with empty_db.session() as session:
            await audit.record(session, actor_id=None, action="test.burst", n=n)
            await session.flush()
            await asyncio.sleep(0.25)  # work between the write and the commit

    await asyncio.gather(*(unit(n) for n in range(24)))  # 6 s of holding the lock in all
    async with empty_db.read() as session:
        count = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "test.burst")
        )
    assert count == 24


async def test_a_read_only_unit_of_work_cannot_write(empty_db: Database) -> None:
    async def sneak_a_write() -> None:
        async with empty_db.read() as session:
            await audit.record(session, actor_id=None, action="test.sneaky")
            await session.flush()

    with pytest.raises(DBAPIError):
        await sneak_a_write()
    async with empty_db.read() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 0


async def test_readers_run_while_a_writer_holds_the_lock(empty_db: Database) -> None:
    async with empty_db.session() as writer:
        await audit.record(writer, actor_id=None, action="test.writer")
        await writer.flush()

        async def read() -> int | None:
            async with empty_db.read() as session:
                return await session.scalar(select(func.count()).select_from(AuditEntry))

        # Another task reads at once (the writer's row is not committed yet).
        assert await asyncio.wait_for(asyncio.create_task(read()), timeout=2) == 0


async def test_admin_rights_move_only_to_the_accounts_admin_grant_named(
    empty_db: Database,
) -> None:
    """Before 0006 a link carried an admin's rights to the linked account: the upgrade gives
    them back only to the account the audited `admin grant` named."""
    await empty_db.downgrade("0005")
    statements = [
        "INSERT INTO people (id, display_name, is_admin, created_at, last_seen_at)"
        " VALUES (1, 'Ada', TRUE, '2026-01-01', '2026-01-01')",
        "INSERT INTO identities (id, person_id, platform, external_id, display_name, active,"
        " created_at) VALUES (1, 1, 'telegram', '123', 'Ada', TRUE, '2026-01-01'),"
        " (2, 1, 'slack', 'U0LINKED', 'Ada', TRUE, '2026-01-01')",
        "INSERT INTO audit_log (at, action, detail) VALUES"
        """ ('2026-01-02', 'admin.grant', '{"who": "telegram:123"}'),"""
        """ ('2026-01-03', 'admin.grant', '{"who": "slack:U0OTHER"}'),"""
        """ ('2026-01-04', 'admin.revoke', '{"who": "slack:U0OTHER"}')""",
    ]
    async with empty_db.engine.begin() as conn:
        for statement in statements:
            await conn.execute(sa_text(statement))
    await empty_db.upgrade()
    async with empty_db.read() as session:
        rights = dict(
            (await session.execute(select(Identity.external_id, Identity.is_admin))).all()
        )
    assert rights == {"123": True, "U0LINKED": False}


def test_the_latest_revision_the_store_knows_is_alembics_head() -> None:
    """`upgrade` skips Alembic at LATEST_REVISION: a new migration must move it too."""
    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [LATEST_REVISION]


async def test_stored_revisions_are_read_without_alembic(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert await db.stored_revisions() == ()  # no version table before the first upgrade
        await db.upgrade()
        assert await db.stored_revisions() == (LATEST_REVISION,)
        await db.downgrade("0001")
        assert await db.stored_revisions() == ("0001",)
        await db.upgrade()  # not at the latest: Alembic migrates the rest
        assert await db.stored_revisions() == (LATEST_REVISION,)
        assert await db.current_revision() == LATEST_REVISION
    finally:
        await db.close()


def test_an_upgrade_at_the_latest_revision_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bridge.sqlite3'}"
    probe = (
        "import asyncio, sys\n"
        "from ccin_bridge.store.db import Database\n"
        "async def main(url):\n"
        "    db = Database(url)\n"
        "    await db.upgrade()\n"
        "    loaded = 'alembic' in sys.modules\n"
        "    await db.close()\n"
        "    return loaded\n"
        "print('ALEMBIC', asyncio.run(main(sys.argv[1])))\n"
    )

    def upgrade_in_a_process() -> str:
        result = subprocess.run(
            [sys.executable, "-c", probe, url], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert upgrade_in_a_process() == "ALEMBIC True"  # a new database: migrated
    assert upgrade_in_a_process() == "ALEMBIC False"  # at the latest revision: one query


async def test_an_unreachable_database_is_said_at_once_not_taken_for_an_empty_one() -> None:
    from sqlalchemy.exc import DBAPIError

    db = Database("postgresql://postgres@127.0.0.1:1/nowhere")  # nothing listens on port 1
    try:
        with pytest.raises(DBAPIError):
            await db.stored_revisions()
    finally:
        await db.close()


def test_the_safe_url_shows_no_password_however_it_is_given() -> None:
    db = Database("postgresql://ada:s3cret-one@db.example/ccin?password=s3cret-two&sslmode=require")
    try:
        shown = db.safe_url
    finally:
        asyncio.run(db.close())
    assert "s3cret" not in shown and "sslmode=require" in shown and "ada" in shown
