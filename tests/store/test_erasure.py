"""/forgetme: after it, no table holds the person's name, handle or platform ids."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String, Text, select

from handlers.commands import all_commands
from handlers.config import Settings
from handlers.core import Bridge
from scheduler.chat_actions import ChatActionService
from store import audit, erasure
from store.db import Database
from store.models import Base, Person
from tests.conftest import Clock
from tests.handlers.groups_support import (
    ADMIN,
    ALEX_SLACK,
    ALEX_TG,
    OFFICERS_SLACK,
    OFFICERS_TG,
    FakeChatAdmin,
    actions,
    approve_all,
    bound_settings,
    join_officers,
    say,
    texts,
)

NEEDLES = (
    ALEX_TG.display_name,
    ALEX_TG.username or "",
    ALEX_TG.user_id,
    ALEX_SLACK.username or "",
    ALEX_SLACK.user_id,
)


async def _everything(db: Database) -> list[tuple[str, str, Any]]:
    """Every string and JSON value in every table, as (table, column, value)."""
    found = []
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
            if not columns:
                continue
            for row in (await session.execute(select(*columns))).all():
                found += [(table.name, c.name, v) for c, v in zip(columns, row, strict=True)]
    return found


def _mentions(values: list[tuple[str, str, Any]]) -> list[tuple[str, str]]:
    return [
        (table, column)
        for table, column, value in values
        if value is not None and any(n in str(value) for n in NEEDLES)
    ]


async def test_forgetme_leaves_no_trace_in_any_table(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = Bridge(bound_settings(settings), db, all_commands(), clock=clock)
    await bridge.start()
    await say(bridge, ADMIN, "/help")
    await join_officers(bridge, ALEX_TG)
    await say(bridge, ALEX_TG, "/subscribe announcements")
    code = texts(await say(bridge, ALEX_TG, "/link")).split("code is ")[1][:8]
    assert "Linked" in texts(await say(bridge, ALEX_SLACK, f"/link {code}"))
    await approve_all(bridge)
    telegram, slack = FakeChatAdmin("telegram"), FakeChatAdmin("slack")
    service = ChatActionService(
        db, {"telegram": telegram, "slack": slack}, settings=bridge.settings
    )
    await service.drain()
    assert ALEX_SLACK.user_id in slack.chats[OFFICERS_SLACK]
    assert ("admit", OFFICERS_TG, ALEX_TG.user_id) in telegram.calls
    # Before: the store is full of them (the approval card, the invitation, identities...).
    assert len(_mentions(await _everything(db))) > 3

    ask = await say(bridge, ALEX_TG, "/forgetme")
    assert "forgetme --confirm" in actions(ask)
    assert "forgotten" in texts(await say(bridge, ALEX_TG, "/forgetme --confirm"))
    await service.drain()

    assert ("remove", OFFICERS_TG, ALEX_TG.user_id) in telegram.calls
    assert ALEX_SLACK.user_id not in slack.chats[OFFICERS_SLACK]
    assert _mentions(await _everything(db)) == []
    async with db.session() as session:
        names = list(await session.scalars(select(Person.display_name)))
    assert names == [ADMIN.display_name]
    # Anonymous counts survive: the join and approval are still in the audit log.
    stats = texts(await say(bridge, ADMIN, "/stats"))
    assert "Officer Network: 0 member(s)" in stats


async def test_forgetme_without_chats_erases_at_once(bridge: Bridge) -> None:
    await say(bridge, ALEX_TG, "/join housing --accept")
    await say(bridge, ALEX_TG, "Oxford City Council")
    assert "member of Housing" in texts(await say(bridge, ALEX_TG, "officers"))
    await say(bridge, ALEX_TG, "/forgetme --confirm")
    assert _mentions(await _everything(bridge.db)) == []


async def test_redaction_takes_whole_words_and_leaves_json_structure(db: Database) -> None:
    async with db.session() as session:
        await audit.record(
            session,
            actor_id=None,
            action="test.note",
            note="Events with Eve, and eve@example.org; Eve's notes",
            Eve="a key is structure, not data",
        )
    async with db.session() as session:
        assert await erasure.redact(session, ["Eve"]) == 1
        entry = (await audit.recent(session, 1))[0]
    assert entry.detail["note"] == "Events with [erased], and eve@example.org; [erased]'s notes"
    assert entry.detail["Eve"] == "a key is structure, not data"
