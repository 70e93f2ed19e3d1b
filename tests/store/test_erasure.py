"""/forgetme: after it, no table holds any name, handle or platform id the person had."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import JSON, String, Text, func, select
from sqlalchemy import text as sa_text

from ccin_bridge.handlers import chat_events
from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.scheduler.chat_actions import ChatActionService
from ccin_bridge.scheduler.outbound import Undeliverable
from ccin_bridge.store import audit, erasure
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import AuditEntry, Base, Delivery, Identity, KnownName, Person, Push
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
    await say(bridge, ALEX_SLACK, f"/link {code}")
    assert "Linked" in texts(await say(bridge, ALEX_SLACK, f"/link --confirm {code}"))
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
    assert "Officer Network: 0 members" in stats


async def test_forgetme_without_chats_erases_at_once(bridge: Bridge) -> None:
    await say(bridge, ALEX_TG, "/join housing --accept")
    await say(bridge, ALEX_TG, "Oxford City Council")
    assert "member of Housing" in texts(await say(bridge, ALEX_TG, "officers"))
    await say(bridge, ALEX_TG, "/forgetme --confirm")
    assert _mentions(await _everything(bridge.db)) == []


async def test_redaction_takes_whole_words_and_leaves_json_structure(db: Database) -> None:
    async with db.session() as session:
        eve = Person(display_name="Eve")
        session.add(eve)
        await session.flush()
        about_eve = "Events with Eve, and EVE@example.org; Eve's notes; Olive\n Okafor, eve_l"
        await audit.record(
            session,
            actor_id=None,
            action="test.note",
            subject_id=eve.id,
            note=about_eve,
            Eve="a key is structure, not data",
            group="eve",  # a slug: structure
        )
        await audit.record(session, actor_id=None, action="test.other", note=about_eve)
    async with db.session() as session:
        names = ["Eve", "Olive Okafor", "eve_l"]
        await erasure.redact(session, names, {"people": [eve.id], "identities": []})
        other, theirs = await audit.recent(session, 2)
    # In a row about her every name goes, in any case; in anyone else's only those that
    # cannot be an ordinary word.
    assert theirs.detail["note"] == (
        "Events with [erased], and [erased]@example.org; [erased]'s notes; [erased], [erased]"
    )
    assert theirs.detail["Eve"] == "a key is structure, not data"
    assert theirs.detail["group"] == "eve"
    assert other.detail["note"] == (
        "Events with Eve, and EVE@example.org; Eve's notes; [erased], [erased]"
    )


def test_erasure_decides_for_every_table() -> None:
    """A table added later fails here until store/erasure.py PLAN says what erasure does
    to it, and a person or text column added to a table fails until it is classified."""
    unplanned = sorted(set(Base.metadata.tables) - set(erasure.PLAN))
    assert unplanned == [], f"add {unplanned} to store/erasure.py PLAN"
    assert set(erasure.PLAN) <= set(Base.metadata.tables)
    for name, plan in erasure.PLAN.items():
        table = Base.metadata.tables[name]
        people = {
            c.name
            for c in table.columns
            if any(fk.column.table.name in ("people", "identities") for fk in c.foreign_keys)
        }
        text = {c.name for c in table.columns if isinstance(c.type, (String, Text, JSON))}
        named = {plan.owner, *plan.theirs, *plan.pointers, *plan.text, *plan.kept, *plan.blank}
        assert named - {None} <= set(table.columns.keys()), name
        if plan.untouched:
            assert not people and named == {None}, name
            continue
        assert people <= {plan.owner, *plan.theirs, *plan.pointers}, (name, people)
        assert text <= {*plan.text, *plan.kept, *plan.blank}, (name, text)
        assert not set(plan.text) & set(plan.kept), name


async def test_every_name_they_ever_had_is_erased(
    settings: Settings, db: Database, clock: Clock
) -> None:
    """Old display names and handles are erased too, in others' text as in their own."""
    bridge = Bridge(bound_settings(settings), db, all_commands(), clock=clock)
    await bridge.start()
    first = UserRef("telegram", "700777111", display_name="Olive Okafor", username="olive_o")
    later = replace(first, display_name="Liv Smith", username="livsmith")
    sam = UserRef("telegram", "700200300", display_name="Sam Sample", username="samsample")
    await say(bridge, ADMIN, "/help")
    await say(bridge, first, "/join housing --accept")
    await say(bridge, first, "Oxford City Council")
    await say(bridge, first, "officers")  # a join request: admins get a card with her name
    await say(bridge, sam, f"/news Welcome @{first.username} and {first.display_name}")
    await say(bridge, sam, "She joins us from Oxford.")
    await say(bridge, sam, "skip")
    await say(bridge, sam, "submit")
    await say(bridge, later, "/subscribe announcements")  # the same account, renamed
    hello = f"Say hello to {later.display_name} (@{later.username})!"
    await say(bridge, ADMIN, f"/broadcast everyone --send {hello}")
    names = {"Olive Okafor", "olive_o", "Liv Smith", "livsmith"}
    everything = await _everything(db)
    assert {n for n in names if any(n in str(v) for _, _, v in everything)} == names

    assert "forgotten" in texts(await say(bridge, later, "/forgetme --confirm"))

    left = [(t, c) for t, c, v in await _everything(db) if any(n in str(v) for n in names)]
    assert left == []


async def test_short_names_go_from_their_own_fields(bridge: Bridge) -> None:
    al = UserRef("terminal", "al", display_name="Al", username="al")
    await say(bridge, al, "/subscribe announcements")
    await say(bridge, replace(al, display_name="Jo"), "/help")
    await say(bridge, al, "/forgetme --confirm")
    async with bridge.db.session() as session:
        names = {
            *await session.scalars(select(Person.display_name)),
            *await session.scalars(select(Identity.display_name)),
            *await session.scalars(select(Identity.username)),
            *await session.scalars(select(KnownName.name)),
        }
    assert not names & {"Al", "al", "Jo"}


async def test_what_mentions_them_before_the_end_is_erased_too(
    settings: Settings, db: Database, clock: Clock
) -> None:
    """A removal that fails after /forgetme is reported to admins about them: the second
    sweep, when the erasure completes, takes their platform id out of it."""
    bridge = Bridge(bound_settings(settings), db, all_commands(), clock=clock)
    await bridge.start()
    await say(bridge, ADMIN, "/help")
    await join_officers(bridge, ALEX_TG)
    await approve_all(bridge)
    telegram = FakeChatAdmin("telegram")
    service = ChatActionService(db, {"telegram": telegram}, settings=bridge.settings)
    await service.drain()
    await say(bridge, ALEX_TG, "/forgetme --confirm")
    telegram.fail_with = Undeliverable(f"user {ALEX_TG.user_id} is not in the chat")
    await service.drain()
    async with db.session() as session:
        assert list(await session.scalars(select(Person.display_name))) == [ADMIN.display_name]
        notices = list(await session.scalars(select(AuditEntry.action)))
    assert "chat.remove_failed" in notices
    assert _mentions(await _everything(db)) == []


async def test_adding_subjects_keeps_every_push_and_delivery(database_url: str) -> None:
    """Migration 0007 rebuilds `pushes` on SQLite; its deliveries cascade from it."""
    db = Database(database_url)
    try:
        await db.upgrade("0006")
        async with db.engine.begin() as conn:
            await conn.execute(
                sa_text(
                    "INSERT INTO pushes (id, kind, title, payload, created_at)"
                    " VALUES (1, 'broadcast', 'Hello', '{}', '2026-11-01 09:00:00')"
                )
            )
            await conn.execute(
                sa_text(
                    "INSERT INTO deliveries (push_id, platform, chat_id, is_private, status,"
                    " attempts, next_attempt_at, in_doubt)"
                    " VALUES (1, 'telegram', '42', TRUE, 'pending', 0, '2026-11-01 09:00:00',"
                    " FALSE)"
                )
            )
        await db.upgrade()
        async with db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Delivery)) == 1
            push = await session.get_one(Push, 1)
        assert push.subject_id is None and push.title == "Hello"
    finally:
        await db.close()


async def test_a_namesakes_card_keeps_the_name_they_share(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = Bridge(bound_settings(settings), db, all_commands(), clock=clock)
    await bridge.start()
    await say(bridge, ADMIN, "/help")
    sarah = UserRef("telegram", "700000001", display_name="Sarah Jones", username="sarahj")
    other = UserRef("telegram", "700000002", display_name="Sarah Jones", username="sjones2")
    await join_officers(bridge, sarah)
    await join_officers(bridge, other)
    async with db.read() as session:
        other_id = await session.scalar(
            select(Identity.person_id).where(Identity.external_id == other.user_id)
        )
        before = [
            (p.title, p.payload)
            for p in await session.scalars(select(Push).where(Push.subject_id == other_id))
        ]
    assert before and any("Sarah Jones" in str(payload) for _, payload in before)
    await say(bridge, sarah, "/forgetme --confirm")
    async with db.read() as session:
        after = [
            (p.title, p.payload)
            for p in await session.scalars(select(Push).where(Push.subject_id == other_id))
        ]
    # The other Sarah's join request still names her; only the erased one's cards changed.
    assert after == before


async def test_a_name_first_seen_in_a_chat_event_is_erased_too(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = Bridge(bound_settings(settings), db, all_commands(), clock=clock)
    await bridge.start()
    await say(bridge, ADMIN, "/help")
    kim = UserRef("telegram", "700111222", display_name="Kim", username="kim_k")
    await say(bridge, kim, "/start")
    renamed = replace(kim, display_name="Kimberley Stone", username="kimberley")
    chat = ChatRef("telegram", OFFICERS_TG, is_private=False)
    await chat_events.member_joined(bridge, chat=chat, user=renamed)  # unapproved: admins told
    assert "Kimberley Stone" in str([v for _, _, v in await _everything(db)])
    await say(bridge, kim, "/forgetme --confirm")
    left = [
        (t, c)
        for t, c, v in await _everything(db)
        if "Kimberley" in str(v) or "kimberley" in str(v)
    ]
    assert left == []
