"""Flows in progress on SQLite and PostgreSQL: one per account, its JSON state kept as given,
forgotten after two days, and cleared and saved again within one unit of work (a flow that
finishes may go back to a step: handlers/flow.py)."""

from __future__ import annotations

from datetime import timedelta

from ccin_bridge.store import conversations, people
from ccin_bridge.store.db import Database


async def _account(db: Database, name: str) -> int:
    async with db.session() as session:
        _, identity_id = await people.touch(
            session, platform="terminal", external_id=name, display_name=name, username=None
        )
    return identity_id


async def test_the_state_comes_back_as_saved_and_one_flow_replaces_another(db: Database) -> None:
    alex = await _account(db, "alex")
    data = {"mode": "edit", "id": 3, "title": "Café “news”", "text": "Two\n\nlines", "link": None}
    async with db.session() as session:
        await conversations.save(session, alex, command="news", step="text", data=data)
    async with db.session() as session:
        found = await conversations.current(session, alex)
        assert found is not None and (found.command, found.step) == ("news", "text")
        assert found.data == data
        await conversations.save(session, alex, command="join", step="rules", data={"group": "x"})
    async with db.session() as session:
        found = await conversations.current(session, alex)
    assert found is not None and (found.command, found.step, found.data) == (
        "join",
        "rules",
        {"group": "x"},
    )


async def test_a_flow_untouched_for_two_days_is_forgotten(db: Database) -> None:
    alex, sam = await _account(db, "alex"), await _account(db, "sam")
    async with db.session() as session:
        await conversations.save(session, alex, command="broadcast", step="audience", data={})
        saved = await conversations.current(session, alex)
    assert saved is not None
    fresh, stale = saved.updated_at + timedelta(days=1), saved.updated_at + timedelta(days=3)
    async with db.read() as session:
        assert await conversations.waiting(session, "terminal", "alex", fresh)
        assert not await conversations.waiting(session, "terminal", "alex", stale)
        assert not await conversations.waiting(session, "terminal", "sam", fresh)
    async with db.session() as session:
        assert await conversations.current(session, alex, fresh) is not None
        assert await conversations.current(session, alex, stale) is None  # and deleted
    async with db.session() as session:
        assert await conversations.current(session, alex, fresh) is None
        assert await conversations.current(session, sam) is None


async def test_clear_says_whether_there_was_a_flow_and_a_flow_may_be_saved_again_at_once(
    db: Database,
) -> None:
    alex = await _account(db, "alex")
    async with db.session() as session:
        assert not await conversations.clear(session, alex)
        await conversations.save(session, alex, command="join", step="role", data={"org": 1})
    async with db.session() as session:
        assert await conversations.current(session, alex) is not None  # loaded, then:
        assert await conversations.clear(session, alex)
        await conversations.save(session, alex, command="join", step="org", data={"org": None})
    async with db.session() as session:
        found = await conversations.current(session, alex)
    assert found is not None and (found.step, found.data) == ("org", {"org": None})
