"""Flows saved by the version before declared flows still resume, and what is saved now reads
the same way: the conversation rows below have exactly the shape the old `if step == ...`
handlers wrote (their step names and their `data` keys)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import UserRef
from ccin_bridge.store import conversations, people, reference
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Conversation, NewsItem, Push
from tests.conftest import Clock
from tests.handlers import groups_support
from tests.handlers.push_support import ADA, ALEX, press, push_bridge, say, says

TITLE = "Sampleford opens a community energy co-op"
BODY = "Residents of Sampleford now own the solar panels on three council buildings."
LINK = "https://example.org/sampleford-energy"
MESSAGE = "The Officer Network meets online next Tuesday."


async def old_row(bridge: Bridge, user: UserRef, command: str, step: str, data: Any) -> None:
    """Save `user`'s conversation as the old code did (the account exists: it has talked)."""
    await say(bridge, user, "/start")
    async with bridge.db.session() as session:
        caller = await people.account(
            session,
            platform=user.platform,
            external_id=user.user_id,
            display_name=user.display_name,
            username=user.username,
        )
        await conversations.save(session, caller.identity_id, command=command, step=step, data=data)


async def saved(bridge: Bridge) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every conversation saved, by its command: (step, data)."""
    async with bridge.db.session() as session:
        rows = await session.scalars(select(Conversation))
        return {r.command: (r.step, dict(r.data)) for r in rows}


async def test_an_old_news_flow_resumes_at_its_link_step(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await old_row(bridge, ALEX, "news", "link", {"mode": "submit", "title": TITLE, "text": BODY})
    preview = says(await say(bridge, ALEX, LINK))
    assert "Preview of your news" in preview and TITLE in preview and BODY in preview
    assert "Thank you" in says(await say(bridge, ALEX, "submit"))
    async with bridge.db.session() as session:
        [item] = list(await session.scalars(select(NewsItem)))
    assert (item.title, item.body, item.url) == (TITLE, BODY, LINK)


async def test_an_old_news_edit_and_rejection_reason_resume(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await say(bridge, ALEX, f"/news {TITLE}")
    await say(bridge, ALEX, BODY)
    await say(bridge, ALEX, "skip")
    await say(bridge, ALEX, "submit")
    async with bridge.db.session() as session:
        [item] = list(await session.scalars(select(NewsItem)))
    edit = {"mode": "edit", "id": item.id, "title": TITLE, "text": BODY, "link": None}
    await old_row(bridge, ADA, "news", "text", edit)
    assert "A link" in says(await say(bridge, ADA, "keep"))
    assert "Saved your changes" in says(await say(bridge, ADA, LINK))
    await old_row(bridge, ADA, "news", "reason", {"id": item.id})
    assert "Alex Example is told" in says(await say(bridge, ADA, "Not this month"))
    async with bridge.db.session() as session:
        [decided] = list(await session.scalars(select(NewsItem)))
    assert (decided.url, decided.status, decided.reason) == (LINK, "rejected", "Not this month")


async def test_an_old_broadcast_resumes_at_its_text_and_confirm_steps(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await old_row(bridge, ADA, "broadcast", "text", {"audience": "leaders"})
    assert "Preview: broadcast to Leaders and Mayors" in says(await say(bridge, ADA, MESSAGE))
    await old_row(bridge, ADA, "broadcast", "confirm", {"audience": "officers", "text": MESSAGE})
    assert "Broadcast #" in says(await press(bridge, ADA, "broadcast --confirm"))
    async with bridge.db.session() as session:
        [push] = list(await session.scalars(select(Push).where(Push.kind == "broadcast")))
    assert push.audience == "officers" and MESSAGE in str(push.payload)
    assert await saved(bridge) == {}


async def test_an_old_join_resumes_at_its_organisation_and_role_steps(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await groups_support.make_bridge(settings, sqlite_db, clock)
    alex = groups_support.ALEX_TG
    await old_row(bridge, alex, "join", "org", {"group": "officers", "accepted": 1})
    assert "And your role?" in says(await say(bridge, alex, "Oxford City Council"))
    async with bridge.db.session() as session:
        [oxford] = await reference.organisations(session, "Oxford City Council")
    await old_row(
        bridge, alex, "join", "role", {"group": "officers", "accepted": 1, "org": oxford.id}
    )
    assert "/join" in says(await say(bridge, alex, "/help"))  # a command does not disturb it
    assert "waiting for a network admin" in says(await say(bridge, alex, "officers"))
    # `/join` alone resumes an old rules step too.
    await old_row(bridge, alex, "join", "rules", {"group": "housing"})
    assert "Housing: rules of engagement" in says(await say(bridge, alex, "/join"))


async def test_what_is_saved_now_has_the_old_keys(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    """So a rollback to the version before finds its flows where it left them."""
    bridge = await push_bridge(settings, sqlite_db, clock)
    await say(bridge, ADA, "/broadcast officers")
    await say(bridge, ALEX, f"/news {TITLE}")
    group_bridge = await groups_support.make_bridge(settings, sqlite_db, clock)
    await say(group_bridge, groups_support.ALEX_TG, "/join officers --accept")
    rows = await saved(bridge)
    assert rows["broadcast"] == ("text", {"audience": "officers", "text": None})
    assert rows["news"] == (
        "text",
        {"mode": "submit", "id": None, "title": TITLE, "text": None, "link": None},
    )
    assert rows["join"] == ("org", {"group": "officers", "accepted": 1, "org": None, "role": None})
