"""Joining two people into one when they link their accounts (/link)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Table, UniqueConstraint, delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Base, Membership, Person


def person_columns() -> list[tuple[Table, Column[Any]]]:
    """Every column in every table that refers to a person, found from the schema itself,
    so tables added later are merged and erased without anyone remembering to list them."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "people" for fk in column.foreign_keys):
                found.append((table, column))
    return found


_STATUS_RANK = {"active": 4, "pending": 3, "left": 2, "removed": 1, "declined": 0}


async def merge(session: AsyncSession, *, keep_id: int, merge_id: int) -> None:
    """Move everything of person `merge_id` onto `keep_id` and delete `merge_id`.

    Where both have a row that must be unique (a membership of the same group, a choice about
    the same topic), the survivor's row stays, except that the better membership wins.
    """
    if keep_id == merge_id:
        return
    keep = await session.get_one(Person, keep_id)
    gone = await session.get_one(Person, merge_id)
    mine = {
        m.group_id: m
        for m in await session.scalars(select(Membership).where(Membership.person_id == keep_id))
    }
    for m in list(
        await session.scalars(select(Membership).where(Membership.person_id == merge_id))
    ):
        other = mine.get(m.group_id)
        if other is None:
            continue
        if _STATUS_RANK.get(m.status, 0) > _STATUS_RANK.get(other.status, 0):
            other.status, other.reason, other.updated_at = m.status, m.reason, m.updated_at
        await session.delete(m)
    await session.flush()
    for table, column in person_columns():
        if table.name == "people":
            continue
        await _move_rows(session, table, column, keep_id, merge_id)
    keep.organisation_id = keep.organisation_id or gone.organisation_id
    keep.role = keep.role or gone.role
    keep.display_name = keep.display_name or gone.display_name
    keep.created_at = min(keep.created_at, gone.created_at)
    keep.last_seen_at = max(keep.last_seen_at, gone.last_seen_at)
    await session.flush()
    await session.execute(delete(Person).where(Person.id == merge_id))


async def _move_rows(
    session: AsyncSession, table: Table, column: Column[Any], keep_id: int, merge_id: int
) -> None:
    # Rows that would collide with one of the survivor's on a unique constraint are dropped.
    for constraint in table.constraints:
        if not isinstance(constraint, UniqueConstraint) or column.name not in constraint.columns:
            continue
        others = [c for c in constraint.columns if c.name != column.name]
        if not others:
            continue
        theirs = select(*others).where(column == keep_id)
        clash = tuple_(*others).in_(theirs) if len(others) > 1 else others[0].in_(theirs)
        await session.execute(table.delete().where(column == merge_id, clash))
    await session.execute(table.update().where(column == merge_id).values({column.name: keep_id}))
