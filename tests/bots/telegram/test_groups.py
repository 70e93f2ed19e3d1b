"""The real groups, end to end: invite links, join requests, removals, chat member updates,
the bot blocked or removed, and a group that becomes a supergroup.

The bot is the real PTB Application polling the fake Bot API; the rules are the real
`handlers.chat_events` on the real store. The fake keeps who is in each group, so a test sees
the group as Telegram would after the bot's calls.
"""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import select

from ccin_bridge.handlers import chat_events
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import text
from ccin_bridge.scheduler.outbound import Undeliverable
from ccin_bridge.store import chat_actions, people
from ccin_bridge.store import groups as store_groups
from ccin_bridge.store.models import AuditEntry, Identity, Push
from tests.bots.telegram.conftest import (
    ALICE,
    BOB,
    CAROL,
    DANA,
    GROUP,
    NEW_GROUP,
    OLD_GROUP,
    Harness,
)
from tests.fakes.telegram_api import TgUser

WEEK = 7 * 24 * 3600


async def meet(bridge: Bridge, user: TgUser) -> int:
    """The store knows this person (as after their first message); returns their id."""
    async with bridge.db.session() as session:
        person, _ = await people.touch(
            session,
            platform="telegram",
            external_id=str(user.id),
            display_name=user.first_name,
            username=user.username,
        )
    return person.id


async def approve(bridge: Bridge, user: TgUser, slug: str) -> int:
    person_id = await meet(bridge, user)
    async with bridge.db.session() as session:
        await store_groups.set_membership(
            session, person_id=person_id, slug=slug, status=store_groups.ACTIVE
        )
    return person_id


async def audit_actions(bridge: Bridge) -> list[str]:
    async with bridge.db.session() as session:
        return list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


async def push_titles(bridge: Bridge) -> list[str]:
    async with bridge.db.session() as session:
        return list(await session.scalars(select(Push.title).order_by(Push.id)))


async def test_an_approved_member_gets_a_join_request_link_and_is_let_in(
    telegram: Harness,
) -> None:
    api, bot = telegram.api, telegram.bot
    api.add_group(GROUP)
    await approve(bot.bridge, ALICE, "officers")
    label = "Officer Network for Alice Example of Exampleton Council"
    url = await bot.admit(chat_id=str(GROUP.id), user_id=str(ALICE.id), label=label)
    [link] = api.invite_links
    assert url == link.url and link.chat_id == GROUP.id
    assert link.raw["creates_join_request"] is True
    assert "member_limit" not in link.raw  # Telegram refuses it with join requests
    assert link.raw["name"] == label[:32]
    assert WEEK - 3600 < link.raw["expire_date"] - time.time() <= WEEK

    await telegram.settle(await api.push_join_request(ALICE, GROUP, link))
    [approved] = api.calls_to("approveChatJoinRequest")
    assert approved.params == {"chat_id": GROUP.id, "user_id": ALICE.id}
    assert api.calls_to("declineChatJoinRequest") == []
    assert api.status_of(GROUP.id, ALICE.id) == "member"
    assert api.sent_to(ALICE.id) == []  # nothing to explain


async def test_someone_not_approved_is_declined_with_an_explanation_in_a_dm(
    telegram: Harness,
) -> None:
    api = telegram.api
    api.add_group(GROUP)
    # Carol never started the bot: only the join request lets the bot write to her.
    await telegram.settle(await api.push_join_request(CAROL, GROUP))
    [declined] = api.calls_to("declineChatJoinRequest")
    assert declined.params == {"chat_id": GROUP.id, "user_id": CAROL.id}
    assert api.status_of(GROUP.id, CAROL.id) == "left"
    [dm] = api.sent_to(CAROL.id)
    assert "open to approved members only" in dm.text
    assert "/join officers" in dm.text
    # The DM went before the decision: afterwards Telegram would refuse it.
    methods = [c.method for c in api.calls if c.status == 200]
    assert methods.index("sendMessage") < methods.index("declineChatJoinRequest")
    assert "chat.join_request" in await audit_actions(telegram.bot.bridge)


async def test_a_dm_that_cannot_be_sent_is_logged_and_the_request_still_decided(
    telegram: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    api = telegram.api
    api.add_group(GROUP)
    api.block(BOB.id)
    with caplog.at_level(logging.INFO, logger="ccin_bridge.bots.telegram"):
        await telegram.settle(await api.push_join_request(BOB, GROUP))
    assert len(api.calls_to("declineChatJoinRequest")) == 1
    assert [c.status for c in api.calls_to("sendMessage")] == [403]
    assert "could not DM Telegram user" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_join_request_someone_else_settled_first_is_not_an_error(
    telegram: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    api = telegram.api
    api.add_group(GROUP)
    await approve(telegram.bot.bridge, ALICE, "officers")
    api.fail("approveChatJoinRequest", 400, "Bad Request: HIDE_REQUESTER_MISSING")
    with caplog.at_level(logging.INFO, logger="ccin_bridge.bots.telegram"):
        await telegram.settle(await api.push_join_request(ALICE, GROUP))
    assert "already settled" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_removal_bans_then_lifts_the_ban_only_if_banned(telegram: Harness) -> None:
    api, bot = telegram.api, telegram.bot
    api.add_group(GROUP, {ALICE.id: "member", DANA.id: "creator"})
    assert await bot.is_member(chat_id=str(GROUP.id), user_id=str(ALICE.id)) is True
    await bot.remove(chat_id=str(GROUP.id), user_id=str(ALICE.id))
    [ban] = api.calls_to("banChatMember")
    [unban] = api.calls_to("unbanChatMember")
    assert ban.params == {"chat_id": GROUP.id, "user_id": ALICE.id}
    assert unban.params == {"chat_id": GROUP.id, "user_id": ALICE.id, "only_if_banned": True}
    # Out of the group, and not banned: a later invitation can bring them back.
    assert api.status_of(GROUP.id, ALICE.id) == "left"
    assert await bot.is_member(chat_id=str(GROUP.id), user_id=str(ALICE.id)) is False
    # Someone who is not there: removing them is success, and they stay out.
    await bot.remove(chat_id=str(GROUP.id), user_id=str(CAROL.id))
    assert api.status_of(GROUP.id, CAROL.id) == "left"
    assert await bot.members(chat_id=str(GROUP.id)) is None  # bots cannot list members


async def test_removing_the_group_owner_is_undeliverable(telegram: Harness) -> None:
    api = telegram.api
    api.add_group(GROUP, {DANA.id: "creator"})
    api.fail("banChatMember", 400, "Bad Request: can't remove chat owner")
    with pytest.raises(Undeliverable, match="chat owner"):
        await telegram.bot.remove(chat_id=str(GROUP.id), user_id=str(DANA.id))
    assert api.status_of(GROUP.id, DANA.id) == "creator"


async def test_an_unapproved_member_appearing_in_a_group_is_reported_to_admins(
    telegram: Harness,
) -> None:
    api, bridge = telegram.api, telegram.bot.bridge
    api.add_group(GROUP)
    await meet(bridge, DANA)  # an admin the bot can write to
    await approve(bridge, ALICE, "officers")
    await telegram.settle(await api.push_chat_member(GROUP, ALICE, "member"))
    assert await push_titles(bridge) == []  # approved: nothing to report
    await telegram.settle(await api.push_chat_member(GROUP, CAROL, "member", by=ALICE))
    assert await push_titles(bridge) == ["Unapproved chat member"]
    await telegram.settle(await api.push_chat_member(GROUP, CAROL, "left"))
    actions = await audit_actions(bridge)
    assert actions.count("chat.unapproved_member") == 1
    assert actions.count("chat.member_left") == 1


async def test_the_bot_removed_from_a_bound_group_tells_the_admins(telegram: Harness) -> None:
    api, bridge = telegram.api, telegram.bot.bridge
    api.add_group(GROUP)
    await meet(bridge, DANA)
    await telegram.settle(await api.push_my_chat_member(GROUP, "left", by=DANA))
    assert "chat.bot_removed" in await audit_actions(bridge)
    assert await push_titles(bridge) == ["Bot removed from a chat"]
    await telegram.settle(await api.push_my_chat_member(GROUP, "administrator", by=DANA))
    assert "chat.bot_added" in await audit_actions(bridge)


async def test_a_person_blocking_the_bot_is_marked_inactive_until_they_unblock_it(
    telegram: Harness,
) -> None:
    api, bridge = telegram.api, telegram.bot.bridge
    await telegram.say(ALICE, "/start")

    async def active() -> bool:
        async with bridge.db.session() as session:
            identity = await session.scalar(
                select(Identity).where(Identity.external_id == str(ALICE.id))
            )
            assert identity is not None
            return identity.active

    assert await active()
    await telegram.settle(await api.push_my_chat_member(ALICE.private_chat, "kicked", by=ALICE))
    assert not await active()
    await telegram.settle(await api.push_my_chat_member(ALICE.private_chat, "member", by=ALICE))
    assert await active()


async def test_a_group_upgraded_to_a_supergroup_keeps_working(telegram: Harness) -> None:
    api, bot = telegram.api, telegram.bot
    api.add_group(OLD_GROUP, {ALICE.id: "member"})
    await approve(bot.bridge, BOB, "leaders")
    await telegram.settle(await api.migrate(OLD_GROUP, NEW_GROUP, by=DANA))
    async with bot.bridge.db.session() as session:
        assert await chat_actions.resolve_chat(session, "telegram", str(OLD_GROUP.id)) == str(
            NEW_GROUP.id
        )
    # Join requests in the supergroup are judged by the group config binds to the old id.
    await telegram.settle(await api.push_join_request(BOB, NEW_GROUP))
    assert api.calls_to("approveChatJoinRequest")[0].params["chat_id"] == NEW_GROUP.id
    # Anything still addressed to the old id follows the redirect Telegram answers with.
    await bot.send(chat=ChatRef("telegram", str(OLD_GROUP.id), is_private=False), reply=text("Hi"))
    assert [(c.params["chat_id"], c.status) for c in api.calls_to("sendMessage")] == [
        (OLD_GROUP.id, 400),
        (NEW_GROUP.id, 200),
    ]
    assert [m.text for m in api.sent_to(NEW_GROUP.id)] == ["Hi"]
    url = await bot.admit(chat_id=str(OLD_GROUP.id), user_id=str(CAROL.id), label="Leaders")
    assert url == api.invite_links[-1].url and api.invite_links[-1].chat_id == NEW_GROUP.id
    await bot.remove(chat_id=str(OLD_GROUP.id), user_id=str(ALICE.id))
    assert api.status_of(NEW_GROUP.id, ALICE.id) == "left"


async def test_a_member_update_that_fails_is_logged_not_posted_to_the_group(
    telegram: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    api = telegram.api
    api.add_group(GROUP)

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the store is unavailable")

    monkeypatch.setattr(chat_events, "member_joined", broken)
    with caplog.at_level(logging.ERROR):
        await telegram.settle(await api.push_chat_member(GROUP, CAROL, "member"))
    assert "MemberJoined failed" in caplog.text  # contained and logged by the core
    assert api.sent_to(GROUP.id) == []  # nobody in the group asked for anything
