"""Group admin tools and the join flow's edges, through the Bridge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from ccin_bridge.handlers.config import Settings
from ccin_bridge.store import chat_actions
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import ChatAction, Push
from tests.conftest import Clock
from tests.handlers.groups_support import (
    ADMIN,
    ALEX_SLACK,
    ALEX_TG,
    OFFICERS_SLACK,
    OFFICERS_TG,
    actions,
    approve_all,
    join_officers,
    make_bridge,
    say,
    texts,
)


async def test_only_admins_may_approve_remove_or_see_members(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    for line in ("/pending", "/approve 1", "/members officers", "/remove officers #1", "/stats"):
        assert "for network admins only" in texts(await say(bridge, ALEX_TG, line))


async def test_approval_card_reaches_admins_and_decline_asks_for_a_reason(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    await say(bridge, ADMIN, "/help")
    assert "waiting for a network admin" in texts(await join_officers(bridge, ALEX_TG))
    async with bridge.db.session() as session:
        card = await session.scalar(select(Push.payload).where(Push.kind == "admin"))
    assert card is not None and "approve 1" in str(card) and "decline 1" in str(card)
    asked = await say(bridge, ADMIN, "/decline 1")
    assert "Why are you declining #1" in texts(asked)
    assert "decline 1 --no-reason" in actions(asked)
    assert "Declined #1" in texts(await say(bridge, ADMIN, "Not a council officer"))
    async with bridge.db.session() as session:
        notices = [str(p) for p in await session.scalars(select(Push.payload))]
    assert any("Not a council officer" in n for n in notices)
    assert "already decided" in texts(await say(bridge, ADMIN, "/approve 1"))


async def test_approve_invites_leave_and_admin_remove_queue_removals(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    await say(bridge, ADMIN, "/help")
    await join_officers(bridge, ALEX_TG)
    await approve_all(bridge)
    members = texts(await say(bridge, ADMIN, "/members officers"))
    assert "Alex Example" in members and "rules v1 accepted" in members
    assert "telegram 1" in texts(await say(bridge, ADMIN, "/stats"))
    assert "remove officers" in texts(await say(bridge, ADMIN, "/remove officers"))
    done = texts(await say(bridge, ADMIN, "/remove officers @alexexample spamming"))
    assert "1 chat removal queued" in done
    async with bridge.db.session() as session:
        kinds = [
            (a.kind, a.chat_id, a.status)
            for a in await session.scalars(select(ChatAction).order_by(ChatAction.id))
        ]
    assert kinds == [
        (chat_actions.INVITE, OFFICERS_TG, "done"),  # superseded by the removal
        (chat_actions.REMOVE, OFFICERS_TG, "pending"),
    ]
    # Removed people come back only through an admin, even if they try again.
    assert "waiting for a network admin" in texts(await join_officers(bridge, ALEX_TG))


async def test_a_half_finished_join_resumes_and_unlisted_explains(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    await say(bridge, ALEX_TG, "/join officers --accept")
    assert "Which organisation" in texts(await say(bridge, ALEX_TG, "/join"))
    assert "Which organisation" in texts(await say(bridge, ALEX_TG, "/join officers"))
    unlisted = texts(await say(bridge, ALEX_TG, "/join officers --unlisted"))
    assert "can join the network" in unlisted
    assert "Groups you can join" in texts(await say(bridge, ALEX_TG, "/join"))


async def test_link_merges_accounts_once_and_codes_expire(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    code = texts(await say(bridge, ALEX_TG, "/link")).split("code is ")[1][:8]
    clock.now += timedelta(minutes=11)
    assert "expired" in texts(await say(bridge, ALEX_SLACK, f"/link {code}"))
    code = texts(await say(bridge, ALEX_TG, "/link")).split("code is ")[1][:8]
    asked = await say(bridge, ALEX_SLACK, f"/link {code.lower()}")
    assert "belongs to Alex Example" in texts(asked)  # linking waits for the confirmation
    assert "Linked" in texts(await say(bridge, ALEX_SLACK, "/" + actions(asked)[0]))
    assert "not valid" in texts(await say(bridge, ALEX_SLACK, f"/link {code}"))
    mydata = texts(await say(bridge, ALEX_SLACK, "/mydata"))
    assert "telegram alexexample" in mydata and "slack alex.ex" in mydata


async def test_stats_counts_this_month_from_midnight_on_the_first_in_the_network_zone(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    # 30 June 23:30 UTC is already 1 July in London (BST): July's count starts then.
    clock.now = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    assert "This month (since 01 July)" in texts(await say(bridge, ADMIN, "/stats"))


async def test_a_reason_step_for_a_request_decided_meanwhile_ends_and_sends_nothing(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    await say(bridge, ADMIN, "/help")
    await join_officers(bridge, ALEX_TG)
    assert "Why are you declining #1" in texts(await say(bridge, ADMIN, "/decline 1"))
    assert "Approved" in texts(await say(bridge, ADMIN, "/approve 1"))  # e.g. from the card
    assert "already decided" in texts(await say(bridge, ADMIN, "Typed for the decline"))
    # The step is over: the next plain text is not taken as a reason again.
    assert "already decided" not in texts(await say(bridge, ADMIN, "hello"))
    async with bridge.db.session() as session:
        notices = [str(p) for p in await session.scalars(select(Push.payload))]
    assert not any("Typed for the decline" in n for n in notices)


async def test_linking_invites_each_account_only_to_chats_it_is_not_in(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    await say(bridge, ADMIN, "/help")
    await join_officers(bridge, ALEX_SLACK)  # a member through Slack only
    await approve_all(bridge)
    code = texts(await say(bridge, ALEX_TG, "/link")).split("code is ")[1][:8]
    await say(bridge, ALEX_SLACK, f"/link {code}")
    assert "Linked" in texts(await say(bridge, ALEX_SLACK, f"/link --confirm {code}"))
    async with bridge.db.session() as session:
        invites = [
            (a.platform, a.chat_id)
            for a in await session.scalars(
                select(ChatAction).where(ChatAction.kind == chat_actions.INVITE)
            )
        ]
    # Slack was invited on approval; linking adds the Telegram account, and only that.
    assert sorted(invites) == [("slack", OFFICERS_SLACK), ("telegram", OFFICERS_TG)]
