"""SQLite through aiosqlite, one trip to the connection's thread per statement.

aiosqlite runs each connection in its own thread; every call into it is a trip there and back
(a queue, a wake-up, a callback on the event loop), and a trip costs far more CPU than the
statements this bridge runs. SQLAlchemy's adapter makes four trips per statement (open a
cursor, execute, fetch, close), and a unit of work added one more trip for its BEGIN, and up
to two more at its end (a commit, and the pool's rollback of a connection already committed).

This adapter keeps aiosqlite's threads, so readers still run beside a writer, and makes:
- one trip per statement: cursor, execute, fetch and close run together in the thread;
- no trip of its own for a unit of work's BEGIN (`begin_with`): it runs in the same trip as
  the unit's first statement, before it, so the transaction still begins before anything is
  read (BEGIN IMMEDIATE still takes the write lock first), and a unit that runs no statement
  begins nothing;
- no trip to commit or roll back when no transaction is open.

Results come back whole, as with SQLAlchemy's adapter (streamed results keep its cursor, after
a trip for the pending BEGIN). It
uses two of aiosqlite's internals, `Connection._execute` (queue a call for the thread) and
`Connection._conn`, as SQLAlchemy's adapter does; tests/store/test_hot_paths.py counts the trips.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose every statement is one trip: the results come back whole."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    _adapt_connection: Connection

    def __init__(self, adapt_connection: Any) -> None:  # no driver cursor to open
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: Any = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[no-any-return]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _async_soft_close(self) -> None:
        pass  # the driver's cursor was closed in the trip that used it

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        pass

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._run(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._run(operation, seq_of_parameters, many=True)

    def _run(self, operation: str, parameters: Any, *, many: bool) -> None:
        adapted = self._adapt_connection
        driver = self._connection

        def in_thread() -> tuple[Any, list[Any], int, Any]:
            connection: sqlite3.Connection = driver._conn
            if adapted.pending_begin is not None:
                connection.execute(adapted.pending_begin)
                adapted.pending_begin = None  # begun (a failed BEGIN is left to the rollback)
            cursor = connection.cursor()
            try:
                if many:
                    cursor.executemany(operation, parameters)
                elif parameters is None:
                    cursor.execute(operation)
                else:
                    cursor.execute(operation, parameters)
                description = cursor.description
                rows = cursor.fetchall() if description else []
                return description, rows, cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        try:
            result = await_(driver._execute(in_thread))
        except Exception as error:
            adapted._handle_exception(error)
        self._description, rows, self._rowcount, self._lastrowid = result
        self._rows = collections.deque(rows)


class _StreamingCursor(AsyncAdapt_aiosqlite_ss_cursor):
    """SQLAlchemy's cursor for streamed results, which begins a pending transaction first."""

    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._adapt_connection.begin_now()  # type: ignore[attr-defined]
        return super().execute(operation, parameters)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._adapt_connection.begin_now()  # type: ignore[attr-defined]
        return super().executemany(operation, seq_of_parameters)


class Connection(AsyncAdapt_aiosqlite_connection):
    """An aiosqlite connection whose BEGIN waits for its first statement (see the module)."""

    __slots__ = ("pending_begin",)
    _cursor_cls = _Cursor
    _ss_cursor_cls = _StreamingCursor

    def __init__(self, dbapi: Any, connection: aiosqlite.Connection) -> None:
        super().__init__(dbapi, connection)  # type: ignore[arg-type]
        self.pending_begin: str | None = None

    def begin_with(self, statement: str) -> None:
        """Begin the transaction with `statement` (e.g. BEGIN IMMEDIATE), in the trip of the
        next statement."""
        self.pending_begin = statement

    def begin_now(self) -> None:
        """Run a pending BEGIN in a trip of its own (before a statement that streams)."""
        statement, driver = self.pending_begin, self._connection
        if statement is not None:
            try:
                await_(driver._execute(lambda: driver._conn.execute(statement)))
            except Exception as error:
                self._handle_exception(error)
            self.pending_begin = None

    def _in_transaction(self) -> bool:
        # Read from this thread while no trip is under way (this connection runs one at a time).
        driver = self._connection._connection
        return driver is not None and driver.in_transaction

    def commit(self) -> None:
        self.pending_begin = None
        if self._in_transaction():
            super().commit()

    def rollback(self) -> None:
        self.pending_begin = None
        if self._in_transaction():
            super().rollback()


class Dbapi(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module for `create_async_engine(..., module=Dbapi())`."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> Connection:
        adapted = super().connect(*arg, **kw)
        return Connection(self, adapted._connection)  # type: ignore[arg-type]
