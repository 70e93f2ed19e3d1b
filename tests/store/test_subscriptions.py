"""Subscriptions on SQLite and PostgreSQL: defaults by group never override an opt-out."""

from __future__ import annotations

from ccin_bridge.store import people, subscriptions
from ccin_bridge.store.db import Database


async def _person(db: Database, name: str) -> int:
    async with db.session() as session:
        record = await people.touch_identity(
            session, platform="terminal", external_id=name, display_name=name, username=None
        )
    return record.id


async def test_group_defaults_subscribe_digest_reminders_and_announcements(db: Database) -> None:
    pid = await _person(db, "alex")
    async with db.session() as session:
        added = await subscriptions.apply_group_defaults(session, pid, "officers")
        again = await subscriptions.apply_group_defaults(session, pid, "officers")
        topics = await subscriptions.topics_of(session, pid)
    assert added == ["digest:officers", "reminders", "announcements"]
    assert again == []
    assert topics == {"announcements": True, "digest:officers": True, "reminders": True}


async def test_an_explicit_opt_out_survives_group_defaults(db: Database) -> None:
    pid = await _person(db, "sam")
    async with db.session() as session:
        assert await subscriptions.set_wanted(session, pid, "digest:leaders", False)
        assert not await subscriptions.set_wanted(session, pid, "digest:leaders", False)
    async with db.session() as session:
        added = await subscriptions.apply_group_defaults(session, pid, "leaders")
        topics = await subscriptions.topics_of(session, pid)
    assert "digest:leaders" not in added
    assert topics["digest:leaders"] is False and topics["reminders"] is True


async def test_a_thematic_group_without_audience_adds_no_digest(db: Database) -> None:
    pid = await _person(db, "jo")
    async with db.session() as session:
        added = await subscriptions.apply_group_defaults(session, pid, None)
    assert added == ["reminders", "announcements"]


async def test_broadcast_targets_leave_out_announcement_opt_outs(db: Database) -> None:
    keen, quiet, other = [await _person(db, n) for n in ("keen", "quiet", "other")]
    async with db.session() as session:
        for pid in (keen, quiet):
            await subscriptions.apply_group_defaults(session, pid, "officers")
        await subscriptions.apply_group_defaults(session, other, "champions")
        await subscriptions.set_wanted(session, quiet, "announcements", False)
    async with db.session() as session:
        officers = await subscriptions.broadcast_targets(session, "officers")
        everyone = await subscriptions.broadcast_targets(session, None)
        readers = await subscriptions.digest_targets(session, ["officers", "champions"])
    assert [t.chat_id for t in officers] == ["keen"]
    assert sorted(t.chat_id for t in everyone) == ["keen", "other"]
    assert sorted(t.chat_id for t in readers) == ["keen", "other", "quiet"]
