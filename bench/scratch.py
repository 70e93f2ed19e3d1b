"""Throw-away databases for the benchmarks: a SQLite file in a temporary folder, or a
`ccin_bench_*` database created on the PostgreSQL server and dropped after."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg

PG_ADMIN = os.environ.get("CCIN_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def backends(postgres: bool) -> list[str]:
    """SQLite, and PostgreSQL when asked for and reachable (said when it is not)."""
    found = ["SQLite"]
    if postgres:
        try:
            with psycopg.connect(PG_ADMIN, connect_timeout=3):
                found.append("PostgreSQL")
        except psycopg.Error as exc:
            print(f"PostgreSQL not reachable at {PG_ADMIN}: {exc.__class__.__name__}; skipped")
    return found


@asynccontextmanager
async def database(backend: str) -> AsyncIterator[str]:
    """The URL of an empty database on `backend`, gone when the block ends."""
    if backend == "SQLite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite3"
        return
    name = f"ccin_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
