"""Migration 0020: events are unique by calendar UID, and by title and day only without one."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from ccin_bridge.store.db import Database

EVENT = (
    "INSERT INTO events (title, starts_on, status, summary, source, uid, recurrence_on,"
    " exdates, rdates) VALUES ('Sample Board', '2027-01-05', 'planned', '', 'test', {uid},"
    " {replaces}, '[]', '[]')"
)


async def test_events_that_share_a_title_and_day_are_kept_apart_by_their_uid(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        await db.upgrade("0015")
        async with db.engine.begin() as conn:
            await conn.execute(text(EVENT.format(uid="NULL", replaces="NULL")))
        await db.upgrade()
        async with db.engine.begin() as conn:
            for uid, replaces in (("'a@x'", "NULL"), ("'a@x'", "'2027-01-05'"), ("'b@x'", "NULL")):
                await conn.execute(text(EVENT.format(uid=uid, replaces=replaces)))
        for uid, replaces in (("NULL", "NULL"), ("'a@x'", "NULL"), ("'a@x'", "'2027-01-05'")):
            with pytest.raises(IntegrityError):  # each is still one of a kind
                async with db.engine.begin() as conn:
                    await conn.execute(text(EVENT.format(uid=uid, replaces=replaces)))
        async with db.engine.begin() as conn:
            await conn.execute(text("DELETE FROM events WHERE uid IS NOT NULL"))
        await db.downgrade("0015")
        await db.upgrade()
    finally:
        await db.close()
