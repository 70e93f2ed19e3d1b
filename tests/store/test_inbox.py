"""The inbound journal's store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from ccin_bridge.store import inbox
from ccin_bridge.store.db import Database
from ccin_bridge.store.inbox import Arrival
from ccin_bridge.store.models import InboundUpdate, utcnow


def arrival(key: str, sender: str = "7", chat: str = "chat:7") -> Arrival:
    return Arrival(key=key, chat_key=chat, sender=sender, payload={"text": f"hello {key}"})


async def test_arrivals_are_stored_once_in_order_and_repeats_dropped(empty_db: Database) -> None:
    async with empty_db.session() as session:
        first = await inbox.add(session, "telegram", [arrival("1"), arrival("2"), arrival("1")])
    async with empty_db.session() as session:
        again = await inbox.add(session, "telegram", [arrival("2"), arrival("3")])
        other_platform = await inbox.add(session, "slack", [arrival("1")])
    assert [i.payload["text"] for i in first] == ["hello 1", "hello 2"]
    assert first[0].id < first[1].id
    assert [i.payload["text"] for i in again] == ["hello 3"]
    assert len(other_platform) == 1  # keys are per platform
    async with empty_db.read() as session:
        open_now = await inbox.open_items(session, "telegram")
    assert [i.payload["text"] for i in open_now] == ["hello 1", "hello 2", "hello 3"]


async def test_batches_of_any_size_are_stored_by_one_compiled_statement(
    empty_db: Database,
) -> None:
    """The journal's INSERT is compiled once (once more for a lone row, which SQLAlchemy runs
    as a single statement), not again for each size of batch: that was most of the CPU a
    batch cost. Every row still comes back with its id."""
    compiled: list[object] = []

    def note(_conn: Any, _cursor: Any, sql: str, _params: Any, context: Any, _many: Any) -> None:
        if sql.lstrip().upper().startswith("INSERT INTO INBOUND_UPDATES"):
            compiled.append(context.compiled)

    event.listen(empty_db.engine.sync_engine, "before_cursor_execute", note)
    try:
        stored = []
        for size in (1, 3, 2, 150, 4, 1):
            async with empty_db.session() as session:
                batch = [arrival(f"{size}-{n}") for n in range(size)]
                stored += await inbox.add(session, "telegram", batch)
    finally:
        event.remove(empty_db.engine.sync_engine, "before_cursor_execute", note)
    assert len({id(c) for c in compiled}) <= 2
    assert [i.payload["text"].split()[1] for i in stored][:6] == [
        "1-0",
        "3-0",
        "3-1",
        "3-2",
        "2-0",
        "2-1",
    ]
    assert len({i.id for i in stored}) == len(stored) == 160  # the second "1-0" is a repeat


async def test_replies_recorded_then_finished_leave_only_the_key(empty_db: Database) -> None:
    async with empty_db.session() as session:
        [item] = await inbox.add(session, "telegram", [arrival("1")])
    async with empty_db.session() as session:
        await inbox.record_replies(session, item.id, 0, [{"v": 1, "first": True}])
        await inbox.record_replies(session, item.id, 1, [{"v": 1, "second": True}])
    async with empty_db.read() as session:
        [reopened] = await inbox.open_items(session, "telegram")
    assert reopened.replies == ([{"v": 1, "first": True}], [{"v": 1, "second": True}])
    async with empty_db.session() as session:
        await inbox.finish(session, [item.id], now=utcnow())
    async with empty_db.read() as session:
        assert await inbox.open_items(session, "telegram") == []
        row = await session.get_one(InboundUpdate, item.id)
    assert (row.status, row.payload, row.replies, row.key) == ("done", None, None, "1")


async def test_purge_forgets_keys_only_once_no_repeat_can_come(empty_db: Database) -> None:
    now = utcnow()
    async with empty_db.session() as session:
        old, recent, _waiting = await inbox.add(
            session, "telegram", [arrival("1"), arrival("2"), arrival("3")]
        )
        await inbox.finish(session, [old.id], now=now - inbox.KEEP_KEYS_FOR - timedelta(hours=1))
        await inbox.finish(session, [recent.id], now=now - timedelta(hours=1))
    async with empty_db.session() as session:
        assert await inbox.purge(session, now) == 1
    async with empty_db.read() as session:
        keys = set(await session.scalars(select(InboundUpdate.key)))
    assert keys == {"2", "3"}  # the one still waiting is never purged


async def test_erasure_removes_what_one_account_sent_and_nothing_else(empty_db: Database) -> None:
    async with empty_db.session() as session:
        await inbox.add(session, "telegram", [arrival("1", sender="7"), arrival("2", sender="8")])
        await inbox.add(session, "slack", [arrival("1", sender="7")])
    async with empty_db.session() as session:
        await inbox.erase_sender(session, "telegram", "7")
    async with empty_db.read() as session:
        rows = (await session.execute(select(InboundUpdate.platform, InboundUpdate.sender))).all()
    assert sorted(tuple(r) for r in rows) == [("slack", "7"), ("telegram", "8")]


async def test_an_update_another_process_recorded_cannot_be_recorded_again(
    empty_db: Database,
) -> None:
    """Two processes handling one update (a lead lost and taken over in between): the second
    to record a call rolls back, its effects with it, and so does one recording a done row."""
    async with empty_db.session() as session:
        (item,) = await inbox.add(session, "telegram", [Arrival("u1", "chat", "ada", {})])
    async with empty_db.session() as session:
        await inbox.record_replies(session, item.id, 0, [{"kind": "text"}])
    with pytest.raises(inbox.AlreadyHandled):
        async with empty_db.session() as session:
            await inbox.record_replies(session, item.id, 0, [{"kind": "other"}])
    async with empty_db.session() as session:  # its next call is its own
        await inbox.record_replies(session, item.id, 1, [])
        await inbox.finish(session, [item.id], now=utcnow())
    with pytest.raises(inbox.AlreadyHandled):
        async with empty_db.session() as session:
            await inbox.record_replies(session, item.id, 2, [])
    async with empty_db.read() as session:
        row = await session.get(InboundUpdate, item.id)
    assert row is not None and row.status == inbox.DONE
