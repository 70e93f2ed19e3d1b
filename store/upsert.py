"""INSERT ... ON CONFLICT, which PostgreSQL and SQLite spell alike but SQLAlchemy builds per
dialect: one statement, so a check-then-insert race between processes cannot happen."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


def insert_new(session: AsyncSession, model: Any) -> Any:
    """An INSERT for `model` on which `.on_conflict_do_nothing(...)` can be called."""
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)
