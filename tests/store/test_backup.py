"""`db backup`: a consistent copy of a live SQLite database, and the restore the README gives."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import stat
import sys
from pathlib import Path

import pytest

from ccin_bridge.store import audit, seed
from ccin_bridge.store.backup import BackupError, backup
from ccin_bridge.store.db import Database


def _file_of(db: Database) -> Path:
    assert db.url.database
    return Path(db.url.database)


async def _actions(db: Database) -> list[str]:
    async with db.read() as session:
        return [entry.action for entry in await audit.recent(session, 10_000)]


async def _record(db: Database, action: str) -> None:
    async with db.session() as session:
        await audit.record(session, actor_id=None, action=action)


async def test_a_write_under_way_is_left_out_and_not_held_up(
    sqlite_db: Database, tmp_path: Path
) -> None:
    await _record(sqlite_db, "committed before")
    target = tmp_path / "copy.sqlite3"
    async with sqlite_db.session() as session:
        # Another connection holds SQLite's write lock with rows written but not committed.
        await audit.record(session, actor_id=None, action="under way")
        await session.flush()
        report = await backup(sqlite_db, target)
    assert "under way" in await _actions(sqlite_db)
    copy = Database(f"sqlite:///{target}")
    try:
        actions = await _actions(copy)
        assert "committed before" in actions
        assert "under way" not in actions
        assert (
            report.revision == await copy.current_revision() == await sqlite_db.current_revision()
        )
    finally:
        await copy.close()


async def test_a_backup_taken_while_the_bridge_writes_has_its_rows(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with sqlite_db.read() as session:
        reference = await seed.counts(session)
    written = 0
    stop, under_way = asyncio.Event(), asyncio.Event()

    async def keep_writing() -> None:
        nonlocal written
        while not stop.is_set():
            await _record(sqlite_db, f"write {written}")
            written += 1
            if written == 5:
                under_way.set()
            await asyncio.sleep(0)

    writer = asyncio.create_task(keep_writing())
    await under_way.wait()
    target = tmp_path / "copy.sqlite3"
    report = await backup(sqlite_db, target)
    stop.set()
    await writer

    assert report.source == _file_of(sqlite_db).resolve()
    assert report.target == target
    assert report.size_bytes == target.stat().st_size > 0
    with sqlite3.connect(target) as plain:
        assert plain.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        # One self-contained file: restoring it needs no -wal beside it.
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    copy = Database(f"sqlite:///{target}")
    try:
        async with copy.read() as session:
            assert await seed.counts(session) == reference
        copied = [a for a in await _actions(copy) if a.startswith("write ")]
        # Whole commits only, in order, from the first on: a snapshot of one moment.
        assert 5 <= len(copied) <= written
        assert sorted(copied, key=lambda a: int(a.split()[1])) == [
            f"write {n}" for n in range(len(copied))
        ]
        assert report.revision == await copy.current_revision()
    finally:
        await copy.close()


def _restore(saved: Path, live: Path) -> None:
    """The README's steps: remove the journal files, copy the backup over the database (over
    it, so that the file keeps its owner)."""
    for suffix in ("-wal", "-shm"):
        Path(f"{live}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(saved, live)


async def test_restoring_is_copying_the_file_back(
    seeded_sqlite_template: Path, tmp_path: Path
) -> None:
    live = tmp_path / "bridge.sqlite3"
    shutil.copyfile(seeded_sqlite_template, live)
    db = Database(f"sqlite:///{live}")
    await _record(db, "kept")
    saved = tmp_path / "saved.sqlite3"
    await backup(db, saved)
    await _record(db, "after the backup")
    await db.close()  # the bridge is stopped

    _restore(saved, live)

    restored = Database(f"sqlite:///{live}")
    try:
        await restored.upgrade()
        actions = await _actions(restored)
        assert "kept" in actions
        assert "after the backup" not in actions
        await _record(restored, "written after the restore")
        assert "written after the restore" in await _actions(restored)
    finally:
        await restored.close()


async def test_an_existing_file_is_replaced_only_when_told(
    sqlite_db: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    target = folder / "ccin.sqlite3"
    target.write_text("yesterday's backup")
    with pytest.raises(BackupError, match="--force"):
        await backup(sqlite_db, target)
    assert target.read_text() == "yesterday's backup"
    assert [p.name for p in folder.iterdir()] == ["ccin.sqlite3"]  # nothing left half-written

    report = await backup(sqlite_db, target, overwrite=True)
    assert report.revision == await sqlite_db.current_revision()
    with sqlite3.connect(target) as plain:
        assert plain.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert [p.name for p in folder.iterdir()] == ["ccin.sqlite3"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
async def test_the_copy_is_readable_by_its_owner_alone(sqlite_db: Database, tmp_path: Path) -> None:
    target = tmp_path / "copy.sqlite3"
    await backup(sqlite_db, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # it holds personal data


async def test_the_database_itself_is_never_the_target(sqlite_db: Database) -> None:
    live = _file_of(sqlite_db)
    before = live.stat().st_size
    with pytest.raises(BackupError, match="the database itself"):
        await backup(sqlite_db, live, overwrite=True)
    assert live.stat().st_size == before


async def test_no_database_is_made_where_there_was_none(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.sqlite3"
    db = Database(f"sqlite:///{missing}")
    try:
        with pytest.raises(BackupError, match="no database at"):
            await backup(db, tmp_path / "copy.sqlite3")
    finally:
        await db.close()
    assert not missing.exists()
    assert not (tmp_path / "copy.sqlite3").exists()


async def test_a_missing_folder_is_named(sqlite_db: Database, tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="does not exist"):
        await backup(sqlite_db, tmp_path / "no-such-folder" / "copy.sqlite3")


async def test_the_pg_dump_advice_leaves_the_password_out() -> None:
    db = Database("postgresql://bridge:s3cret-pw@db.example.org:5432/ccin?sslmode=require")
    try:
        with pytest.raises(BackupError) as raised:
            await backup(db, Path(os.devnull))
    finally:
        await db.close()
    advice = str(raised.value)
    assert "pg_dump --format=custom" in advice
    assert "pg_restore" in advice
    assert "'postgresql://bridge@db.example.org:5432/ccin?sslmode=require'" in advice
    assert "s3cret" not in advice


@pytest.mark.postgres
async def test_postgresql_is_backed_up_with_pg_dump(postgres_url: str, tmp_path: Path) -> None:
    db = Database(postgres_url)
    try:
        await db.upgrade()
        with pytest.raises(BackupError, match="pg_dump") as raised:
            await backup(db, tmp_path / "copy.sqlite3")
    finally:
        await db.close()
    assert postgres_url.rsplit("/", 1)[1] in str(raised.value)
    assert not (tmp_path / "copy.sqlite3").exists()


async def test_a_folder_that_cannot_be_written_is_said_in_a_line(sqlite_db: Database) -> None:
    with pytest.raises(BackupError, match=r"^cannot write in /proc \("):
        await backup(sqlite_db, Path("/proc/ccin-backup.sqlite3"))
