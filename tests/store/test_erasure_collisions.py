"""Erasing someone whose name is also a word the bridge stores changes nobody else's rows.

A member called "active", "pending", "reminders", "announcements", "telegram" or "Network"
shares a word with memberships, topics, platforms and the network's own name. Erasure
redacts names in free text only, and in rows that are not theirs only names that cannot be
ordinary words, so every row that does not belong to them is the same before and after.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import UserRef
from ccin_bridge.scheduler.chat_actions import ChatActionService
from ccin_bridge.store import erasure
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Base, Identity
from tests.conftest import Clock
from tests.handlers.groups_support import (
    ADMIN,
    FakeChatAdmin,
    approve_all,
    join_officers,
    make_bridge,
    say,
    texts,
)

SAM = UserRef("telegram", "700200300", display_name="Sam Sample", username="samsample")
PAT = UserRef("slack", "U0PATPENDING", display_name="Pat Pending", username="pat")
WORDS = ("active", "pending", "reminders", "announcements", "telegram", "Network")
MESSAGE = (
    "Officer Network: active members, pending requests, reminders and announcements "
    "now reach you on telegram and Slack."
)

Rows = dict[tuple[str, tuple[Any, ...]], dict[str, Any]]


async def _rows(db: Database) -> Rows:
    """Every row of every table, keyed by table and primary key."""
    found: Rows = {}
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            keys = [c.name for c in table.primary_key.columns]
            for row in (await session.execute(select(table))).mappings():
                found[(table.name, tuple(row[k] for k in keys))] = dict(row)
    return found


async def _linked(db: Database, rows: Rows, person_id: int) -> set[tuple[str, tuple[Any, ...]]]:
    """The rows that belong to the person: theirs or pointing at them or their accounts."""
    async with db.session() as session:
        accounts = set(
            await session.scalars(select(Identity.id).where(Identity.person_id == person_id))
        )
    linked = set()
    for (name, key), row in rows.items():
        table = Base.metadata.tables[name]
        if name == "people" and row["id"] == person_id:
            linked.add((name, key))
        for column in table.columns:
            for fk in column.foreign_keys:
                target = fk.column.table.name
                value = row[column.name]
                if (target == "people" and value == person_id) or (
                    target == "identities" and value in accounts
                ):
                    linked.add((name, key))
    return linked


async def _world(bridge: Bridge, chats: ChatActionService, them: UserRef) -> None:
    """Other people with memberships, topics, news, a broadcast and a digest that use the
    colliding words; the person to erase joins, subscribes and submits news too."""
    await say(bridge, ADMIN, "/help")
    await join_officers(bridge, SAM)
    await join_officers(bridge, them)
    await approve_all(bridge)
    await join_officers(bridge, PAT)  # stays pending
    for user in (SAM, them):
        await say(bridge, user, "/subscribe announcements")
        await say(bridge, user, "/subscribe reminders")
        await say(bridge, user, "/subscribe digest:officers")
    await say(bridge, PAT, "/subscribe announcements")
    for user, title in ((SAM, "Active travel in the Officer Network"), (them, "Our telegram")):
        await say(bridge, user, f"/news {title}")
        await say(bridge, user, f"{MESSAGE} Pending: more announcements and reminders.")
        await say(bridge, user, "skip")
        await say(bridge, user, "submit")
    await say(bridge, ADMIN, "/news approve 1")
    await say(bridge, ADMIN, "/digest send officers")
    await say(bridge, ADMIN, f"/broadcast officers --send {MESSAGE}")
    await chats.drain()  # the invitations: done before anyone erases anything


@pytest.mark.parametrize(
    ("display_name", "username"),
    [*((word, "someone_else") for word in WORDS), ("Erin Example", "Network")],
)
async def test_a_colliding_name_erases_only_its_owner(
    settings: Settings, db: Database, clock: Clock, display_name: str, username: str
) -> None:
    them = UserRef("telegram", "700999888", display_name=display_name, username=username)
    bridge = await make_bridge(settings, db, clock)
    telegram, slack = FakeChatAdmin("telegram"), FakeChatAdmin("slack")
    chats = ChatActionService(db, {"telegram": telegram, "slack": slack}, settings=bridge.settings)
    await _world(bridge, chats, them)
    before = await _rows(db)
    async with db.session() as session:
        person_id = await session.scalar(
            select(Identity.person_id).where(Identity.external_id == them.user_id)
        )
    assert person_id is not None
    linked = await _linked(db, before, person_id)
    assert any(name == "pushes" for name, _ in linked)  # their approval card, at least

    assert "forgotten" in texts(await say(bridge, them, "/forgetme --confirm"))
    await chats.drain()  # their removal from the chat; then the erasure completes

    after = await _rows(db)
    changed = {
        key: (row, after.get(key))
        for key, row in before.items()
        if key not in linked and after.get(key) != row
    }
    assert changed == {}
    assert not any(key[0] in ("people", "identities") and key in after for key in linked)
    # Their rows that stay (the approval card about them, their news) no longer name them.
    their_names = re.compile(
        "|".join(rf"(?<!\w){re.escape(n)}(?!\w)" for n in (display_name, username)), re.I
    )
    kept = [(key, row) for key, row in after.items() if key in linked]
    assert {key[0] for key, _ in kept} >= {"pushes", "news_items"}
    for (table, _), row in kept:
        if table in ("pushes", "news_items"):
            assert not their_names.search(" ".join(str(row[c]) for c in erasure.PLAN[table].text))
