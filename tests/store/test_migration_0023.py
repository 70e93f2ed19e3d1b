"""Migration 0023: a group row from before it gets its settings from config at the next start,
keeping its rules version; the migration goes down and up again."""

from __future__ import annotations

from sqlalchemy import text

from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.store import group_settings
from ccin_bridge.store.db import Database


async def test_groups_from_before_are_seeded_at_the_next_start(
    database_url: str, settings: Settings
) -> None:
    db = Database(database_url)
    try:
        await db.upgrade("0022")
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO groups (slug, name, rules_version) "
                    "VALUES ('officers', 'Officers', 1)"
                )
            )
        await db.upgrade()
        async with db.read() as session:
            before = (await group_settings.stored_groups(session))["officers"]
        assert before.description is None and before.rules_text is None
        await Bridge(settings, db, all_commands()).start()
        officers = settings.group("officers")
        assert officers is not None
        async with db.read() as session:
            after = (await group_settings.stored_groups(session))["officers"]
        assert after.description == officers.description
        assert after.rules_text == officers.rules.text
        assert after.roles == tuple(officers.roles)
        async with db.read() as session:
            assert await group_settings.revision(session) > 0  # the start's seeding raised it
        await db.downgrade("0022")
        await db.upgrade()
    finally:
        await db.close()
