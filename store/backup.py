"""`db backup`: a consistent copy of the SQLite database, safe while the bridge runs.

SQLite's online backup API copies the database in one step inside a read transaction on a
connection of its own, so in WAL mode it sees one committed snapshot and blocks no writer.
The copy is written beside the target, switched to a rollback journal (one self-contained
file, with no `-wal` beside it to lose or mix up on restore), checked with
`PRAGMA integrity_check`, flushed to disk and only then given the target's name. PostgreSQL
is backed up with its own tools: the error says how.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from ccin_bridge.store.db import Database, public_query

BUSY_TIMEOUT_MS = 5000  # as the bridge's own connections


class BackupError(Exception):
    """Why no backup was made, phrased for the operator."""


@dataclass(frozen=True)
class BackupReport:
    source: Path  # the database file
    target: Path
    size_bytes: int
    revision: str | None  # the schema revision of the copy (None: never migrated)


async def backup(db: Database, target: Path, *, overwrite: bool = False) -> BackupReport:
    """Copy `db` to `target`; an existing `target` is replaced only with `overwrite`."""
    if not db.is_sqlite:
        raise BackupError(pg_dump_advice(db))
    source = db.url.database
    if not source or source == ":memory:" or source.startswith("file::memory:"):
        raise BackupError("an in-memory database cannot be backed up")
    return await asyncio.to_thread(_backup_file, Path(source), Path(target), overwrite)


def pg_dump_advice(db: Database) -> str:
    """How to back up and restore this PostgreSQL database, with its URL but no password."""
    url = URL.create(  # `URL.set(password=None)` would keep it
        "postgresql", db.url.username, None, db.url.host, db.url.port, db.url.database,
        public_query(db.url),
    )  # fmt: skip
    where = shlex.quote(url.render_as_string(hide_password=False))
    return (
        "ccin-bridge backs up SQLite databases only; back up PostgreSQL with pg_dump, e.g. "
        f"pg_dump --format=custom --file=ccin-bridge.dump {where} (the password from "
        "PGPASSWORD or ~/.pgpass), and restore with "
        f"pg_restore --clean --if-exists --no-owner --dbname={where} ccin-bridge.dump"
    )


def _backup_file(source: Path, target: Path, overwrite: bool) -> BackupReport:
    source = source.resolve()
    target = target.expanduser().absolute()
    if not source.is_file():
        raise BackupError(f"there is no database at {source} yet")
    if target.is_dir():
        raise BackupError(f"{target} is a folder; name the backup file to write")
    if not target.parent.is_dir():
        raise BackupError(f"folder {target.parent} does not exist")
    if target.exists() and target.samefile(source):
        raise BackupError(f"{target} is the database itself; choose another file")
    if target.exists() and not overwrite:
        raise BackupError(f"{target} exists already (pass --force to replace it)")
    # mkstemp: a name of our own beside the target (same file system, so the rename is
    # atomic), readable by its owner alone, as the database holds personal data.
    try:
        handle, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".partial"
        )
    except OSError as exc:  # a folder it may not write, a read-only file system
        raise BackupError(f"cannot write in {target.parent} ({exc.strerror or exc})") from None
    os.close(handle)
    partial = Path(temporary)
    try:
        _copy(source, partial)
        revision = _check(partial)
        _fsync(partial)
        _put_in_place(partial, target, overwrite)
    except (OSError, sqlite3.Error) as exc:  # the disk full mid-copy, and such
        raise BackupError(
            f"cannot write {target} ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    _fsync_folder(target.parent)
    return BackupReport(source, target, target.stat().st_size, revision)


def _copy(source: Path, partial: Path) -> None:
    # mode=rw: never create a database where there was none; only read from it.
    with (
        contextlib.closing(
            sqlite3.connect(f"{source.as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        ) as live,
        contextlib.closing(sqlite3.connect(partial)) as copy,
    ):
        try:
            live.backup(copy)  # every page in one step: one snapshot
        except sqlite3.Error as exc:
            raise BackupError(f"cannot read {source}: {exc}") from None
        copy.execute("PRAGMA journal_mode=DELETE")  # one file, whatever the source's mode


def _check(partial: Path) -> str | None:
    with contextlib.closing(sqlite3.connect(f"{partial.as_uri()}?mode=ro", uri=True)) as copy:
        problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise BackupError(f"the copy failed its integrity check: {'; '.join(problems[:3])}")
        try:
            versions = sorted(
                row[0] for row in copy.execute("SELECT version_num FROM alembic_version")
            )
        except sqlite3.OperationalError:  # not migrated yet: no version table
            return None
    return "+".join(versions) or None


def _put_in_place(partial: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(partial, target)
        return
    try:
        os.link(partial, target)  # fails if the target appeared meanwhile: never replaced
    except FileExistsError:
        raise BackupError(f"{target} exists already (pass --force to replace it)") from None
    except OSError:  # a file system without hard links
        if target.exists():
            raise BackupError(f"{target} exists already (pass --force to replace it)") from None
        os.replace(partial, target)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_folder(path: Path) -> None:
    # So that the new name survives a power cut. Windows cannot open a folder and some file
    # systems refuse to sync one; the file itself was synced before it was renamed.
    with contextlib.suppress(OSError):
        _fsync(path)
