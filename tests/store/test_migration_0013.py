"""Migration 0013: each membership takes its person's role; organisations become searchable."""

from __future__ import annotations

from sqlalchemy import text

from ccin_bridge.store import search, search_index
from ccin_bridge.store.db import Database


async def test_upgrade_copies_each_persons_role_onto_their_memberships(database_url: str) -> None:
    db = Database(database_url)
    try:
        await db.upgrade("0012")
        async with db.engine.begin() as conn:
            for statement in (
                "INSERT INTO people (id, display_name, role, created_at, last_seen_at) VALUES "
                "(1, 'A', 'councillors', '2026-01-01', '2026-01-01'), "
                "(2, 'B', NULL, '2026-01-01', '2026-01-01')",
                "INSERT INTO groups (id, slug, name, rules_version) VALUES "
                "(1, 'housing', 'Housing', 1), (2, 'cwb', 'CWB', 1)",
                "INSERT INTO memberships (person_id, group_id, status, created_at, updated_at) "
                "VALUES (1, 1, 'active', '2026-01-01', '2026-01-01'), "
                "(1, 2, 'pending', '2026-01-01', '2026-01-01'), "
                "(2, 1, 'active', '2026-01-01', '2026-01-01')",
                "INSERT INTO organisations (name, member_type, source) VALUES "
                "('Oldham Council', 'full', 'test')",
            ):
                await conn.execute(text(statement))
        await db.upgrade()
        async with db.engine.connect() as conn:
            roles = (
                await conn.execute(
                    text("SELECT person_id, group_id, role FROM memberships ORDER BY 1, 2")
                )
            ).all()
        assert [tuple(r) for r in roles] == [
            (1, 1, "councillors"),
            (1, 2, "councillors"),
            (2, 1, None),
        ]
        async with db.session() as session:
            await search_index.sync(session)
        async with db.session() as session:
            found = await search.search(session, "oldham kind:member")
        assert [h.title for h in found.hits] == ["Oldham Council"]
        await db.downgrade("0012")
        await db.upgrade()
    finally:
        await db.close()
