"""Ending a group's subscriptions on SQLite and PostgreSQL: only what was on, opt-outs kept."""

from __future__ import annotations

from ccin_bridge.store import people, subscriptions
from ccin_bridge.store.db import Database


async def test_end_forgets_what_was_on_and_keeps_opt_outs(db: Database) -> None:
    async with db.session() as session:
        person = await people.touch_identity(
            session, platform="terminal", external_id="kim", display_name="Kim", username=None
        )
        await subscriptions.apply_group_defaults(session, person.id, "officers")
        await subscriptions.set_wanted(session, person.id, "digest:leaders", False)
    async with db.session() as session:
        ended = await subscriptions.end(
            session, person.id, ["digest:officers", "digest:leaders", "announcements", "x"]
        )
        assert await subscriptions.end(session, person.id, []) == []
    assert ended == ["digest:officers", "announcements"]
    async with db.session() as session:
        topics = await subscriptions.topics_of(session, person.id)
        added = await subscriptions.apply_group_defaults(session, person.id, "officers")
    assert topics == {"digest:leaders": False, "reminders": True}
    assert added == ["digest:officers", "announcements"]  # joining again brings them back


async def test_end_keeps_the_persons_own_choices(db: Database) -> None:
    """Only rows a group's defaults made end; choosing such a topic oneself makes it one's own."""
    async with db.session() as session:
        person = await people.touch_identity(
            session, platform="terminal", external_id="ann", display_name="Ann", username=None
        )
        assert await subscriptions.set_wanted(session, person.id, "announcements", True)
        added = await subscriptions.apply_group_defaults(session, person.id, "officers")
        assert added == ["digest:officers", "reminders"]  # her announcements left alone
        assert not await subscriptions.set_wanted(session, person.id, "digest:officers", True)
    async with db.session() as session:
        ended = await subscriptions.end(
            session, person.id, ["digest:officers", "reminders", "announcements"]
        )
        topics = await subscriptions.topics_of(session, person.id)
    assert ended == ["reminders"]
    assert topics == {"announcements": True, "digest:officers": True}
