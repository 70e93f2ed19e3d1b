"""INSERT ... ON CONFLICT, which PostgreSQL and SQLite spell alike but SQLAlchemy builds per
dialect: one statement, so a check-then-insert race between processes cannot happen."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


def insert_new(session: AsyncSession, model: Any) -> Any:
    """An INSERT for `model` on which `.on_conflict_do_nothing(...)` can be called."""
    return insert_for(session.get_bind().dialect.name, model)


def insert_for(dialect: str, model: Any) -> Any:
    """`insert_new` for a dialect named ("postgresql", "sqlite")."""
    # Each dialect's module is loaded when first used: a SQLite bridge never loads
    # PostgreSQL's (a large part of SQLAlchemy's import time).
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)
