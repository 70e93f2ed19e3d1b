"""Wake-ups between processes on one PostgreSQL database: LISTEN/NOTIFY.

A process that stores work another process handles (an update a standby received for the
platform's leader) notifies in the same transaction, so the notification goes out exactly when
the work is visible. The listener waits on its own connection's socket: no statement runs
while nothing happens. On SQLite one process serves the file, so there is nobody to wake.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ccin_bridge.store.db import Database

log = logging.getLogger(__name__)

INBOUND = "ccin_inbound"  # payload: the platform whose journal has new updates


async def notify(session: AsyncSession, channel: str, payload: str) -> None:
    """Inside the caller's unit of work: delivered when it commits, dropped if it rolls back."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": payload})


class Listener:
    """Notifications on `channel`, on a connection of its own that never goes back to the
    pool (it is left in autocommit mode and listening)."""

    def __init__(self, db: Database, channel: str) -> None:
        self.db = db
        self.channel = channel
        self._connection: AsyncConnection | None = None
        self._driver: Any = None  # psycopg's AsyncConnection

    async def start(self) -> None:
        if self.db.is_sqlite or self._connection is not None:
            return
        connection = await self.db.hold_connection()
        try:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.set_autocommit(True)
            await driver.execute(f'LISTEN "{self.channel}"')
        except BaseException:
            await self.db.drop_connection(connection)
            raise
        self._connection, self._driver = connection, driver

    @property
    def listening(self) -> bool:
        return self._driver is not None

    async def wait(self, within: float) -> list[str]:
        """The payloads that came within `within` seconds (at least one, or none when the
        time is up); raises if the connection was lost (the caller starts again). Not
        listening (SQLite, or not started), it waits the time out: it never spins."""
        if self._driver is None:
            await asyncio.sleep(within)
            return []
        payloads: list[str] = []
        async for note in self._driver.notifies(timeout=within, stop_after=1):
            payloads.append(note.payload)
        # Others that came together with the first, without waiting again.
        async for note in self._driver.notifies(timeout=0.0):
            payloads.append(note.payload)
        return payloads

    async def stop(self) -> None:
        connection, self._connection, self._driver = self._connection, None, None
        if connection is not None:
            await self.db.drop_connection(connection)
