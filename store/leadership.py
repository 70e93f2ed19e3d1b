"""Which process runs the scheduler: one leader per database.

On PostgreSQL the leader holds a session-level advisory lock on a connection of its own for as
long as it leads; the lock goes with that connection, so when the leading process dies (or its
connection does) another process's next try takes it over. On SQLite one process serves a
database file, so it always leads.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ccin_bridge.store.db import Database

log = logging.getLogger(__name__)

LEADER_LOCK = 0x6363696E6C656164  # "ccinlead"


class Leadership:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._connection: AsyncConnection | None = None
        self.leading = False

    async def try_lead(self) -> bool:
        """Lead if nobody does; True while this process leads. Called again, it checks that
        the lock is still held (a dropped connection loses it) and tries again if not."""
        if self.db.is_sqlite:
            self.leading = True
            return True
        if self.leading and await self._still_held():
            return True
        await self._let_go()
        connection = await self.db.engine.connect()
        try:
            took = await connection.scalar(text(f"SELECT pg_try_advisory_lock({LEADER_LOCK})"))
            # Autocommit-like: the lock is the session's, not a transaction's.
            await connection.commit()
        except Exception:
            await connection.close()
            raise
        if not took:
            await connection.close()  # it holds nothing: back to the pool
            return False
        self._connection, self.leading = connection, True
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
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    f" AND pid = pg_backend_pid() AND classid = {LEADER_LOCK >> 32}"
                    f" AND objid = {LEADER_LOCK & 0xFFFFFFFF}"
                )
            )
            await connection.commit()
        except Exception:
            log.warning("the leader's database connection was lost", exc_info=True)
            return False
        return bool(held)

    async def _let_go(self) -> None:
        connection, self._connection, self.leading = self._connection, None, False
        if connection is not None:
            try:
                # Not back to the pool, where the lock would stay with it: the database
                # session ends, and with it the lock.
                await connection.invalidate()
                await connection.close()
            except Exception:
                log.info("the leader's connection was already gone", exc_info=True)
