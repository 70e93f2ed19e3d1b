"""Chat events from the platforms: join requests, unapproved members, blocks and migrations."""

from __future__ import annotations

from sqlalchemy import select

from ccin_bridge.handlers import chat_events
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.store import chat_actions, people
from ccin_bridge.store import groups as store_groups
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import AuditEntry, Delivery, Identity, Push
from tests.conftest import Clock
from tests.handlers.groups_support import (
    ADMIN,
    ALEX_TG,
    HOUSING_TG,
    OFFICERS_TG,
    make_bridge,
    say,
)

OFFICERS_CHAT = ChatRef("telegram", OFFICERS_TG, is_private=False)


async def _bridge(settings: Settings, sqlite_db: Database, clock: Clock) -> Bridge:
    bridge = await make_bridge(settings, sqlite_db, clock)
    await say(bridge, ADMIN, "/help")  # the admin has met the bot, so notices can reach them
    return bridge


async def _activate(bridge: Bridge, slug: str) -> None:
    await say(bridge, ALEX_TG, "/help")
    async with bridge.db.session() as session:
        person = await people.find_person(session, "telegram", ALEX_TG.user_id)
        assert person is not None
        await store_groups.set_membership(
            session, person_id=person.id, slug=slug, status=store_groups.ACTIVE
        )


async def _admin_pushes(bridge: Bridge) -> list[Push]:
    async with bridge.db.session() as session:
        return list(await session.scalars(select(Push).where(Push.kind == "admin")))


async def test_join_request_from_a_stranger_is_declined_with_how_to_join(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await _bridge(settings, sqlite_db, clock)
    decision = await chat_events.join_request(bridge, chat=OFFICERS_CHAT, user=ALEX_TG)
    assert decision.approve is False
    assert decision.message is not None
    assert "/join officers" in decision.message.plain_text
    assert decision.message.private


async def test_join_request_of_a_member_of_another_group_is_declined(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await _bridge(settings, sqlite_db, clock)
    await _activate(bridge, "housing")
    decision = await chat_events.join_request(bridge, chat=OFFICERS_CHAT, user=ALEX_TG)
    assert decision.approve is False
    housing = ChatRef("telegram", HOUSING_TG, is_private=False)
    assert (await chat_events.join_request(bridge, chat=housing, user=ALEX_TG)).approve


async def test_pending_member_is_not_let_in(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await _bridge(settings, sqlite_db, clock)
    await say(bridge, ALEX_TG, "/help")
    async with bridge.db.session() as session:
        person = await people.find_person(session, "telegram", ALEX_TG.user_id)
        assert person is not None
        await store_groups.set_membership(
            session, person_id=person.id, slug="officers", status=store_groups.PENDING
        )
    assert not (await chat_events.join_request(bridge, chat=OFFICERS_CHAT, user=ALEX_TG)).approve


async def test_join_request_on_a_migrated_chat_uses_the_configured_id(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await _bridge(settings, sqlite_db, clock)
    await _activate(bridge, "officers")
    await chat_events.chat_migrated(
        bridge, platform="telegram", old_chat_id=OFFICERS_TG, new_chat_id="-1009999999999"
    )
    moved = ChatRef("telegram", "-1009999999999", is_private=False)
    decision = await chat_events.join_request(bridge, chat=moved, user=ALEX_TG)
    assert decision.approve and decision.message is None
    async with bridge.db.session() as session:
        assert await chat_actions.resolve_chat(session, "telegram", OFFICERS_TG) == (
            "-1009999999999"
        )


async def test_unapproved_member_is_flagged_to_admins_and_approved_one_is_not(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await _bridge(settings, sqlite_db, clock)
    await chat_events.member_joined(bridge, chat=OFFICERS_CHAT, user=ALEX_TG)
    pushes = await _admin_pushes(bridge)
    assert len(pushes) == 1
    assert "Alex Example" in str(pushes[0].payload)
    async with bridge.db.session() as session:
        targets = await session.scalars(
            select(Delivery.chat_id).where(Delivery.push_id == pushes[0].id)
        )
        assert list(targets) == [ADMIN.user_id]
    await _activate(bridge, "officers")
    await chat_events.member_joined(bridge, chat=OFFICERS_CHAT, user=ALEX_TG)
    assert len(await _admin_pushes(bridge)) == 1


async def test_member_joining_an_unbound_chat_is_ignored(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await _bridge(settings, sqlite_db, clock)
    other = ChatRef("telegram", "-100555", is_private=False)
    await chat_events.member_joined(bridge, chat=other, user=ALEX_TG)
    assert await _admin_pushes(bridge) == []


async def test_bot_blocked_and_unblocked(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await _bridge(settings, sqlite_db, clock)
    await say(bridge, ALEX_TG, "/help")

    async def active() -> bool | None:
        async with bridge.db.session() as session:
            return await session.scalar(
                select(Identity.active).where(Identity.external_id == ALEX_TG.user_id)
            )

    await chat_events.bot_blocked(bridge, user=ALEX_TG, blocked=True)
    assert await active() is False
    await chat_events.bot_blocked(bridge, user=ALEX_TG, blocked=False)
    assert await active() is True


async def test_bot_removed_from_a_bound_chat_tells_admins_and_is_audited(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await _bridge(settings, sqlite_db, clock)
    await chat_events.bot_membership(bridge, chat=OFFICERS_CHAT, present=True, by=ADMIN)
    assert await _admin_pushes(bridge) == []
    await chat_events.bot_membership(bridge, chat=OFFICERS_CHAT, present=False, by=None)
    pushes = await _admin_pushes(bridge)
    assert len(pushes) == 1 and "Officer Network" in str(pushes[0].payload)
    async with bridge.db.session() as session:
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        assert actions[-2:] == ["chat.bot_added", "chat.bot_removed"]
