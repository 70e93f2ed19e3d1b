"""Group jobs: reconciliation with the real chats, retention erasure, rules reminders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.scheduler import group_jobs, runtime
from ccin_bridge.store import groups as store_groups
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Group, Person, Push
from tests.conftest import Clock
from tests.handlers.groups_support import (
    ADMIN,
    ALEX_TG,
    OFFICERS_TG,
    FakeChatAdmin,
    approve_all,
    join_officers,
    make_bridge,
    say,
)


@pytest.fixture(autouse=True)
def _no_runtime() -> Iterator[None]:
    yield
    runtime.uninstall()


async def _setup(settings: Settings, db: Database, clock: Clock) -> tuple[Bridge, FakeChatAdmin]:
    bridge = await make_bridge(settings, db, clock)
    telegram = FakeChatAdmin("telegram")
    runtime.install(runtime.Runtime(bridge=bridge, chat_admins={"telegram": telegram}))
    await say(bridge, ADMIN, "/help")
    return bridge, telegram


async def _payloads(bridge: Bridge, title: str) -> list[str]:
    async with bridge.db.session() as session:
        rows = await session.scalars(select(Push.payload).where(Push.title == title))
        return [str(p) for p in rows]


async def test_reconciliation_reports_strangers_and_missing_members(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge, telegram = await _setup(settings, sqlite_db, clock)
    await join_officers(bridge, ALEX_TG)
    await approve_all(bridge)
    telegram.chats[OFFICERS_TG] = {"555000111"}  # a stranger; Alex is missing
    assert await group_jobs.reconcile_chats() == 2
    (report,) = await _payloads(bridge, "Reconciliation report")
    assert "555000111 is in the chat but was never approved" in report
    assert "is missing from the chat" in report
    telegram.chats[OFFICERS_TG] = {ALEX_TG.user_id}
    assert await group_jobs.reconcile_chats() == 0


async def test_retention_erases_only_inactive_people_outside_groups(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge, _ = await _setup(settings, sqlite_db, clock)
    await say(bridge, ALEX_TG, "/help")
    assert await group_jobs.erase_inactive() == 0
    clock.now += timedelta(days=bridge.settings.retention_days + 1)
    # Alex (never in a group) is erased; the admin is kept.
    async with bridge.db.session() as session:
        for person in await session.scalars(select(Person)):
            person.last_seen_at = clock.now - timedelta(days=bridge.settings.retention_days + 1)
    assert await group_jobs.erase_inactive() == 1
    async with bridge.db.session() as session:
        names = list(await session.scalars(select(Person.display_name)))
    assert names == [ADMIN.display_name]


async def test_rules_bump_asks_members_to_reaccept_then_reminds_once(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge, _ = await _setup(settings, sqlite_db, clock)
    await join_officers(bridge, ALEX_TG)
    await approve_all(bridge)
    assert await group_jobs.remind_rules() == 0
    async with bridge.db.session() as session:
        group = await session.scalar(select(Group).where(Group.slug == "officers"))
        assert group is not None
        group.rules_version = 2
    members = "\n".join(r.plain_text for r in await say(bridge, ADMIN, "/members officers"))
    assert "rules v2 NOT yet accepted" in members
    assert await group_jobs.remind_rules() == 1
    assert await group_jobs.remind_rules() == 0  # asked already, not yet a week
    clock.now += timedelta(days=8)
    assert await group_jobs.remind_rules() == 1
    assert await group_jobs.remind_rules() == 0  # one reminder only
    await say(bridge, ALEX_TG, "/join officers --accept v2")  # the ask's button
    async with bridge.db.session() as session:
        assert await store_groups.members_needing_consent(session) == []


class _UnreachableChat(FakeChatAdmin):
    async def members(self, *, chat_id: str) -> set[str] | None:
        raise TimeoutError("no answer")


async def test_a_chat_that_cannot_be_checked_is_reported_not_fatal(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    runtime.install(
        runtime.Runtime(bridge=bridge, chat_admins={"telegram": _UnreachableChat("telegram")})
    )
    await say(bridge, ADMIN, "/help")
    # Both bound chats are tried and reported; the first failing does not stop the second.
    assert await group_jobs.reconcile_chats() == 2
    (report,) = await _payloads(bridge, "Reconciliation report")
    assert report.count("could not check the chat (TimeoutError)") == 2
