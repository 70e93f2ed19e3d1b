"""Two admins saving a group's settings at once, on PostgreSQL (where writers run side by side):
each writer locks the group's row, so the second reads what the first saved. Without the lock
both new rules got the same version and one edit's `edited` mark was lost."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store import group_settings as store
from ccin_bridge.store.db import Database

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("db", ["postgresql"], indirect=True),
]
T = TypeVar("T")
U = TypeVar("U")
SPEC = store.GroupSpec(
    slug="officers", name="Officer Network", rules_version=1, rules_text="Be kind."
)


async def _waiting_on_a_lock(db: Database) -> bool:
    # A new transaction each time: pg_stat_activity is read once per transaction.
    async with db.read() as session:
        found = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(found)


async def _side_by_side(
    db: Database,
    first: Callable[[AsyncSession], Awaitable[T]],
    second: Callable[[AsyncSession], Awaitable[U]],
) -> tuple[T, U]:
    """`first` runs and stays uncommitted while `second` starts in another session and gets
    as far as it can (to its wait for a lock); then `first` commits and `second` finishes."""

    async def run_second() -> U:
        async with db.session() as session:
            return await second(session)

    async with db.session() as session:
        one = await first(session)
        later = asyncio.create_task(run_second())
        # Another connection's wait has no event to await here: it is looked for.
        while not later.done() and not await _waiting_on_a_lock(db):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return one, await later


async def _seeded(db: Database) -> None:
    async with db.session() as session:
        await store.sync_groups(session, [SPEC])


async def test_two_new_rules_at_once_get_two_versions(db: Database) -> None:
    await _seeded(db)
    versions = await _side_by_side(
        db,
        lambda s: store.new_rules(s, "officers", "First admin's rules."),
        lambda s: store.new_rules(s, "officers", "Second admin's rules."),
    )
    assert versions == (2, 3)
    async with db.read() as session:
        row = (await store.stored_groups(session))["officers"]
    assert (row.rules_version, row.rules_text) == (3, "Second admin's rules.")


async def test_two_edits_at_once_both_stay_marked_edited(db: Database) -> None:
    await _seeded(db)
    await _side_by_side(
        db,
        lambda s: store.edit_group(s, "officers", {"description": "First admin's words."}),
        lambda s: store.edit_group(s, "officers", {"roles": ["officer"]}),
    )
    async with db.read() as session:
        row = (await store.stored_groups(session))["officers"]
    assert row.edited == {"description", "roles"}
    assert (row.description, row.roles) == ("First admin's words.", ("officer",))


async def test_a_start_while_an_admin_edits_keeps_the_edit(db: Database) -> None:
    await _seeded(db)
    config = store.GroupSpec(
        slug="officers", name="Officer Network", rules_version=1, description="Config's words."
    )
    await _side_by_side(
        db,
        lambda s: store.edit_group(s, "officers", {"description": "The admin's words."}),
        lambda s: store.sync_groups(s, [config]),
    )
    async with db.read() as session:
        row = (await store.stored_groups(session))["officers"]
    assert row.description == "The admin's words." and "description" in row.edited
