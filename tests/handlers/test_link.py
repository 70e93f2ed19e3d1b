"""/link and /unlink through the real Bridge: both accounts consent, and no rights move."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import UserRef
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.handlers.requests import parse_command_line
from ccin_bridge.scheduler.delivery import DeliveryService
from ccin_bridge.store import audit, people
from ccin_bridge.store import groups as store_groups
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Base, Identity, LinkCode, Subscription
from ccin_bridge.store.records import AuditRecord
from tests.conftest import Clock
from tests.handlers.groups_support import (
    ADMIN,
    ALEX_SLACK,
    ALEX_TG,
    actions,
    approve_all,
    dm,
    join_officers,
    make_bridge,
    say,
    texts,
)
from tests.handlers.push_support import FAST, Recorder

ADA_SLACK = UserRef("slack", "U0ADAADMIN", display_name="Ada Admin", username="ada.admin")
SAM_SLACK = UserRef("slack", "U0SAMSAMPLE", display_name="Sam Sample", username="sam")
SAM_TERMINAL = UserRef("terminal", "sam", display_name="Sam Sample")


async def press(bridge: Bridge, user: UserRef, action: str) -> list[Reply]:
    """A button pressed in the person's private chat: its action runs as them."""
    parsed = parse_command_line(action)
    assert parsed is not None, action
    return await bridge.handle(dm(user, *parsed, button=True))


async def code_of(bridge: Bridge, user: UserRef) -> str:
    return texts(await say(bridge, user, "/link")).split("code is ")[1][:8]


async def deliver(db: Database) -> Recorder:
    """Drain the outbox through the real delivery lanes, recording what each chat was sent."""
    recorder = Recorder()
    service = DeliveryService(db, {"telegram": recorder, "slack": recorder}, FAST)
    await service.start()
    try:
        async with asyncio.timeout(20):
            await service.drain()
    finally:
        await service.stop()
    return recorder


async def identity(bridge: Bridge, user: UserRef) -> Identity:
    async with bridge.db.session() as session:
        found = await session.scalar(
            select(Identity).where(
                Identity.platform == user.platform, Identity.external_id == user.user_id
            )
        )
    assert found is not None
    return found


async def linked(bridge: Bridge, a: UserRef, b: UserRef) -> bool:
    return (await identity(bridge, a)).person_id == (await identity(bridge, b)).person_id


async def audit_entries(bridge: Bridge, action: str) -> list[AuditRecord]:
    async with bridge.db.session() as session:
        return [e for e in await audit.recent(session) if e.action == action]


@pytest.mark.parametrize("rights", ["config", "admin grant"])
async def test_the_link_takeover_asks_the_admin_names_the_account_and_moves_no_rights(
    settings: Settings, sqlite_db: Database, clock: Clock, rights: str
) -> None:
    # Ada is an admin on Slack (by config, or by `ccin-bridge admin grant`); Alex is not.
    bridge = await make_bridge(
        settings, sqlite_db, clock, admins=[ADA_SLACK.key] if rights == "config" else []
    )
    if rights == "admin grant":
        async with sqlite_db.session() as session:
            await people.set_admin(
                session, platform="slack", external_id=ADA_SLACK.user_id, is_admin=True
            )
    await say(bridge, ADA_SLACK, "/help")
    code = await code_of(bridge, ALEX_TG)  # Alex asks Ada to "just type this code"
    asked = await say(bridge, ADA_SLACK, f"/link {code}")
    shown = texts(asked)
    # Ada sees exactly whose account this is, and what it means, before anything happens.
    assert "Link this account?" in shown and "belongs to Alex Example" in shown
    assert "Telegram @alexexample" in shown and "Slack @ada.admin" in shown
    assert "Admin rights do not pass between accounts" in shown
    assert actions(asked) == [f"link --confirm {code}", f"link --cancel {code}"]
    assert all(r.private for r in asked)
    assert not await linked(bridge, ADA_SLACK, ALEX_TG)  # nothing linked, code not used up
    async with sqlite_db.session() as session:
        row = await session.get_one(LinkCode, code)
        assert row.claimed_by == (await identity(bridge, ADA_SLACK)).id

    done = texts(await press(bridge, ADA_SLACK, f"link --confirm {code}"))
    assert "Linked." in done and "Alex Example" in done and "Telegram @alexexample" in done
    assert await linked(bridge, ADA_SLACK, ALEX_TG)
    # No rights moved: Alex is still no admin, Ada still is.
    assert "for network admins only" in texts(await say(bridge, ALEX_TG, "/pending"))
    assert "/pending" not in texts(await say(bridge, ALEX_TG, "/help"))
    assert "No join requests are waiting" in texts(await say(bridge, ADA_SLACK, "/pending"))
    assert not (await identity(bridge, ALEX_TG)).is_admin
    [entry] = await audit_entries(bridge, "person.link")
    assert entry.detail == {"platform": "slack", "platforms": ["slack"], "linked_to": ["telegram"]}
    # Alex, who issued the code, is told on Telegram which account joined and how to undo it;
    # Ada's Slack account is not sent that notice.
    sent = await deliver(sqlite_db)
    [notice] = sent.to(ALEX_TG.user_id)
    assert "Slack @ada.admin (Ada Admin) is now linked to your account" in notice.plain_text
    assert "/unlink slack" in notice.plain_text
    assert sent.to(ADA_SLACK.user_id) == []


async def test_linking_from_the_admins_own_code_gives_the_other_account_no_rights(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock, admins=[ADA_SLACK.key])
    code = await code_of(bridge, ADA_SLACK)
    assert "Ada Admin" in texts(await say(bridge, ALEX_TG, f"/link {code}"))
    assert "Linked." in texts(await press(bridge, ALEX_TG, f"link --confirm {code}"))
    assert "for network admins only" in texts(await say(bridge, ALEX_TG, "/pending"))
    assert "No join requests" in texts(await say(bridge, ADA_SLACK, "/pending"))


async def test_only_the_account_that_entered_the_code_can_confirm_it(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    code = await code_of(bridge, ALEX_TG)
    assert "Link this account?" in texts(await say(bridge, ALEX_SLACK, f"/link {code}"))
    # A third account can neither take over the claim nor confirm it.
    taken = texts(await say(bridge, SAM_SLACK, f"/link {code}"))
    assert "Another account has already entered that code" in taken
    refused = texts(await press(bridge, SAM_SLACK, f"link --confirm {code}"))
    assert "Only the account that entered this code can confirm it" in refused
    assert "nothing to cancel" in texts(await press(bridge, SAM_SLACK, f"link --cancel {code}"))
    assert not await linked(bridge, SAM_SLACK, ALEX_TG)
    # The claim still stands for Alex's own Slack account.
    assert "Linked." in texts(await press(bridge, ALEX_SLACK, f"link --confirm {code}"))
    assert await linked(bridge, ALEX_SLACK, ALEX_TG)
    assert "not valid" in texts(await say(bridge, SAM_SLACK, f"/link {code}"))  # used up


async def test_a_confirmation_without_a_claim_only_shows_whose_account_it_is(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    code = await code_of(bridge, ALEX_TG)
    shown = texts(await say(bridge, ALEX_SLACK, f"/link --confirm {code}"))
    assert "Link this account?" in shown and "Telegram @alexexample" in shown
    assert not await linked(bridge, ALEX_SLACK, ALEX_TG)


async def test_an_expired_code_cannot_be_confirmed(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    code = await code_of(bridge, ALEX_TG)
    assert "Link this account?" in texts(await say(bridge, ALEX_SLACK, f"/link {code}"))
    clock.now += timedelta(minutes=11)
    assert "expired" in texts(await press(bridge, ALEX_SLACK, f"link --confirm {code}"))
    assert not await linked(bridge, ALEX_SLACK, ALEX_TG)
    assert await audit_entries(bridge, "person.link") == []


async def test_cancel_releases_the_claim(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    code = await code_of(bridge, ALEX_TG)
    await say(bridge, SAM_SLACK, f"/link {code}")  # the wrong account typed it
    assert "Cancelled: nothing was linked" in texts(
        await press(bridge, SAM_SLACK, f"link --cancel {code}")
    )
    assert "belongs to Alex Example" in texts(await say(bridge, ALEX_SLACK, f"/link {code}"))
    assert "Linked." in texts(await press(bridge, ALEX_SLACK, f"link --confirm {code}"))
    assert not await linked(bridge, SAM_SLACK, ALEX_TG)


async def test_codes_are_refused_within_one_person_or_platform(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    code = await code_of(bridge, ALEX_TG)
    assert "already has a telegram account" in texts(await say(bridge, ADMIN, f"/link {code}"))
    assert "already linked" in texts(await say(bridge, ALEX_TG, f"/link {code}"))
    await say(bridge, ALEX_SLACK, f"/link {code}")
    await press(bridge, ALEX_SLACK, f"link --confirm {code}")
    # Sam (terminal + Slack) cannot join Alex (Telegram + Slack): one account per platform.
    sam_code = await code_of(bridge, SAM_TERMINAL)
    await say(bridge, SAM_SLACK, f"/link {sam_code}")
    await press(bridge, SAM_SLACK, f"link --confirm {sam_code}")
    assert await linked(bridge, SAM_SLACK, SAM_TERMINAL)
    clash = texts(await say(bridge, ALEX_TG, f"/link {await code_of(bridge, SAM_TERMINAL)}"))
    assert "both have a slack account" in clash and "/unlink slack" in clash


async def test_unlink_lists_accounts_and_parts_one_with_its_own_copy(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    assert "only account" in texts(await say(bridge, ALEX_TG, "/unlink"))
    await say(bridge, ADMIN, "/help")
    await join_officers(bridge, ALEX_TG)
    await approve_all(bridge)
    await say(bridge, ALEX_TG, "/subscribe announcements")
    code = await code_of(bridge, ALEX_TG)
    await say(bridge, ALEX_SLACK, f"/link {code}")
    await press(bridge, ALEX_SLACK, f"link --confirm {code}")
    await deliver(sqlite_db)  # the welcome and the link notice

    listed = await say(bridge, ALEX_SLACK, "/unlink")
    shown = texts(listed)
    assert "Telegram @alexexample" in shown and "Slack @alex.ex (this account)" in shown
    assert actions(listed) == ["unlink telegram"]
    done = texts(await press(bridge, ALEX_SLACK, "unlink telegram"))
    assert "Unlinked." in done and "Telegram @alexexample is now separate from Slack" in done
    assert not await linked(bridge, ALEX_SLACK, ALEX_TG)
    # Each side keeps the membership, accepted rules and subscriptions they had together.
    for user in (ALEX_TG, ALEX_SLACK):
        person = (await identity(bridge, user)).person_id
        async with sqlite_db.session() as session:
            membership = await store_groups.membership(session, person, "officers")
            topics = set(
                await session.scalars(
                    select(Subscription.topic).where(Subscription.person_id == person)
                )
            )
        assert membership is not None and membership.status == store_groups.ACTIVE
        assert "announcements" in topics
    assert "rules v1 accepted" in texts(await say(bridge, ADMIN, "/members officers"))
    [entry] = await audit_entries(bridge, "person.unlink")
    assert entry.detail["platform"] == "telegram" and entry.detail["by_admin"] is False
    assert entry.actor_id == (await identity(bridge, ALEX_SLACK)).person_id
    # The Telegram account, which did not ask, is told.
    sent = await deliver(sqlite_db)
    [notice] = sent.to(ALEX_TG.user_id)
    assert "Telegram @alexexample is no longer linked to Slack @alex.ex" in notice.plain_text
    assert sent.to(ALEX_SLACK.user_id) == []
    assert "only account" in texts(await say(bridge, ALEX_SLACK, "/unlink slack"))


async def test_an_account_can_unlink_itself(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    code = await code_of(bridge, ALEX_TG)
    await say(bridge, ALEX_SLACK, f"/link {code}")
    await press(bridge, ALEX_SLACK, f"link --confirm {code}")
    await deliver(sqlite_db)
    assert "no terminal account" in texts(await say(bridge, ALEX_SLACK, "/unlink terminal"))
    assert "no platform “fax”" in texts(await say(bridge, ALEX_SLACK, "/unlink fax"))
    assert "Unlinked." in texts(await say(bridge, ALEX_SLACK, "/unlink slack"))
    assert not await linked(bridge, ALEX_SLACK, ALEX_TG)
    sent = await deliver(sqlite_db)
    assert len(sent.to(ALEX_TG.user_id)) == 1 and sent.to(ALEX_SLACK.user_id) == []


async def test_admin_unlink_parts_anyones_accounts_and_is_audited(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    code = await code_of(bridge, ALEX_TG)
    await say(bridge, ALEX_SLACK, f"/link {code}")
    await press(bridge, ALEX_SLACK, f"link --confirm {code}")
    await deliver(sqlite_db)
    # Not for anyone else's account unless an admin; ids that never match are explained.
    await say(bridge, SAM_SLACK, "/help")
    refused = texts(await say(bridge, SAM_SLACK, f"/unlink {ALEX_TG.key}"))
    assert "Only network admins" in refused
    assert await linked(bridge, ALEX_SLACK, ALEX_TG)
    assert "Slack user ids look like" in texts(await say(bridge, ADMIN, "/unlink slack:alex.ex"))
    assert "No account slack:U0NOBODY" in texts(await say(bridge, ADMIN, "/unlink slack:U0NOBODY"))
    assert "not linked" in texts(await say(bridge, ADMIN, f"/unlink {SAM_SLACK.key}"))

    done = texts(await say(bridge, ADMIN, f"/unlink {ALEX_TG.key}"))
    assert f"Unlinked {ALEX_TG.key} (Telegram @alexexample) from Slack @alex.ex" in done
    assert not await linked(bridge, ALEX_SLACK, ALEX_TG)
    [entry] = await audit_entries(bridge, "person.unlink")
    assert entry.actor_id == (await identity(bridge, ADMIN)).person_id
    assert entry.detail["who"] == ALEX_TG.key and entry.detail["by_admin"] is True
    sent = await deliver(sqlite_db)
    for user in (ALEX_TG, ALEX_SLACK):
        [notice] = sent.to(user.user_id)
        assert "A network admin has unlinked your accounts" in notice.plain_text


async def test_an_unlinked_account_can_be_forgotten_without_a_trace_left_by_linking(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    code = await code_of(bridge, ALEX_TG)
    await say(bridge, ALEX_SLACK, f"/link {code}")
    await press(bridge, ALEX_SLACK, f"link --confirm {code}")
    await say(bridge, ALEX_SLACK, "/unlink telegram")
    await deliver(sqlite_db)
    assert "forgotten" in texts(await say(bridge, ALEX_TG, "/forgetme --confirm"))
    needles = (ALEX_TG.user_id, ALEX_TG.username or "")
    async with sqlite_db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                assert not any(n in str(row) for n in needles), (table.name, row)
    assert (await identity(bridge, ALEX_SLACK)).username == ALEX_SLACK.username
