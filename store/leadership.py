"""Which process runs the scheduler: one leader per database.

On PostgreSQL the leader holds a session-level advisory lock on a connection of its own for as
long as it leads; the lock goes with that connection, so when the leading process dies (or its
connection does) another process's next try takes it over. On SQLite one process serves a
database file, so it always leads. `current_leader` says who leads, for `ccin-bridge jobs`
and `/readyz`.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ccin_bridge.store.db import Database

log = logging.getLogger(__name__)

LEADER_LOCK = 0x6363696E6C656164  # "ccinlead"


def lock_named(name: str) -> int:
    """A lock key of its own for another role (`inbound:telegram`): a stable positive bigint."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest()) >> 1


def _held(lock: int) -> str:
    # pg_locks shows a bigint advisory key as its two halves; objsubid 1 marks the one-key
    # form. Locks are per database, and one server holds many: only this database's counts.
    return (
        f"locktype = 'advisory' AND granted AND classid = {lock >> 32}"
        f" AND objid = {lock & 0xFFFFFFFF} AND objsubid = 1"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )


_THE_LOCK = _held(LEADER_LOCK)


@dataclass(frozen=True)
class Leader:
    """Who runs the scheduled jobs. On PostgreSQL, the server's view of the connection that
    holds the lock (its `application_name` is `ccin-bridge@HOST:PID`, see store/db.py); on
    SQLite, the one process serving the file, of which nothing more is known."""

    backend: str  # "postgresql" | "sqlite"
    pid: int | None = None  # the PostgreSQL server process of the lock's connection
    application_name: str | None = None
    client_addr: str | None = None  # None: a local (Unix socket) connection
    backend_start: datetime | None = None  # when that connection was opened

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "pid": self.pid,
            "application_name": self.application_name,
            "client_addr": self.client_addr,
            "backend_start": self.backend_start.isoformat() if self.backend_start else None,
        }


async def current_leader(session: AsyncSession) -> Leader | None:
    """Who holds the lead now; None if no process does (on PostgreSQL)."""
    if session.get_bind().dialect.name == "sqlite":
        return Leader("sqlite")
    row = (
        await session.execute(
            text(
                "SELECT pid, application_name, host(client_addr), backend_start"
                f" FROM pg_stat_activity WHERE pid IN (SELECT pid FROM pg_locks WHERE {_THE_LOCK})"
            )
        )
    ).first()
    if row is None:
        return None
    return Leader("postgresql", row[0], row[1] or None, row[2], row[3])


class Leadership:
    """One role held by one process at a time: the scheduler (by default), or another
    `lock_named` role such as handling a platform's inbound updates."""

    def __init__(self, db: Database, lock: int = LEADER_LOCK) -> None:
        self.db = db
        self.lock = lock
        self._connection: AsyncConnection | None = None
        self.leading = False
        # The PostgreSQL server process of the lock's connection while leading (the `pid` of
        # `current_leader` when this one leads).
        self.backend_pid: int | None = None

    async def try_lead(self) -> bool:
        """Lead if nobody does; True while this process leads. Called again, it checks that
        the lock is still held (a dropped connection loses it) and tries again if not."""
        if self.db.is_sqlite:
            self.leading = True
            return True
        if self.leading and await self._still_held():
            return True
        await self._let_go()
        connection = await self.db.hold_connection()  # ended with the Database at the latest
        try:
            took, pid = (
                await connection.execute(
                    text(f"SELECT pg_try_advisory_lock({self.lock}), pg_backend_pid()")
                )
            ).one()
            # Autocommit-like: the lock is the session's, not a transaction's.
            await connection.commit()
        except BaseException:  # cancelled too: a connection that may hold the lock must go
            await self.db.drop_connection(connection)
            raise
        if not took:
            await self.db.give_back(connection)  # it holds nothing: back to the pool
            return False
        self._connection, self.leading, self.backend_pid = connection, True, pid
        return True

    async def step_down(self) -> None:
        """Stop leading (the lock goes with the connection)."""
        await self._let_go()

    async def _still_held(self) -> bool:
        connection = self._connection
        if connection is None:
            return False
        try:
            held = await connection.scalar(
                text(
                    f"SELECT count(*) FROM pg_locks WHERE {_held(self.lock)}"
                    " AND pid = pg_backend_pid()"
                )
            )
            await connection.commit()
        except Exception:
            log.warning("the leader's database connection was lost", exc_info=True)
            return False
        return bool(held)

    async def _let_go(self) -> None:
        connection, self._connection, self.leading = self._connection, None, False
        self.backend_pid = None
        if connection is not None:
            try:
                # Released first, so that the next try elsewhere finds it free at once (the
                # server ends a closed connection's session a moment later).
                await connection.execute(text(f"SELECT pg_advisory_unlock({self.lock})"))
            except Exception:
                log.info("the leader's connection was already gone", exc_info=True)
            finally:
                # Not back to the pool, where the lock would stay with it: the database
                # session ends, and with it the lock (also when this is cancelled).
                await self.db.drop_connection(connection)
