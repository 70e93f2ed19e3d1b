"""Migration 0015: subscriptions from before it count as the person's own."""

from __future__ import annotations

from sqlalchemy import text

from ccin_bridge.store import subscriptions
from ccin_bridge.store.db import Database


async def test_rows_from_before_are_kept_when_a_group_is_left(database_url: str) -> None:
    db = Database(database_url)
    try:
        await db.upgrade("0014")
        async with db.engine.begin() as conn:
            for statement in (
                "INSERT INTO people (id, display_name, created_at, last_seen_at) VALUES "
                "(1, 'A', '2026-01-01', '2026-01-01')",
                "INSERT INTO subscriptions (person_id, topic, wanted, created_at) VALUES "
                "(1, 'announcements', true, '2026-01-01')",
            ):
                await conn.execute(text(statement))
        await db.upgrade()
        async with db.session() as session:
            assert await subscriptions.end(session, 1, ["announcements"]) == []
            added = await subscriptions.apply_group_defaults(session, 1, "officers")
        assert added == ["digest:officers", "reminders"]
        async with db.session() as session:
            assert await subscriptions.end(session, 1, ["digest:officers"]) == ["digest:officers"]
        await db.downgrade("0014")
        await db.upgrade()
    finally:
        await db.close()
