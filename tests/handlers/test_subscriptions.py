"""/subscribe and /unsubscribe through the Bridge: per person, across platforms, with buttons."""

from __future__ import annotations

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import UserRef
from ccin_bridge.store import people, subscriptions
from ccin_bridge.store.audiences import topic_targets
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Identity
from tests.conftest import Clock
from tests.handlers.push_support import ALEX, actions, press, push_bridge, say, says


async def _person_id(bridge: Bridge, user: UserRef) -> int:
    async with bridge.db.session() as session:
        record = await people.touch_identity(
            session,
            platform=user.platform,
            external_id=user.user_id,
            display_name=user.display_name,
            username=user.username,
        )
    return record.id


async def test_no_topic_lists_every_topic_with_buttons(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    replies = await say(bridge, ALEX, "/subscribe")
    text = says(replies)
    assert "Monthly digest for Officers" in text and "Event reminders" in text
    assert "not subscribed" in text
    assert "subscribe digest:officers" in actions(replies)
    assert "subscribe announcements" in actions(replies)
    assert all(r.private for r in replies)


async def test_subscribe_by_button_then_unsubscribe_by_name(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    replies = await press(bridge, ALEX, "subscribe digest:officers")
    assert "now subscribed to: Monthly digest for Officers" in says(replies)
    assert "unsubscribe digest:officers" in actions(replies)
    again = await say(bridge, ALEX, "/subscribe officers")
    assert "already subscribed" in says(again)
    off = await say(bridge, ALEX, "/unsubscribe Digest Officers")
    assert "will no longer get: Monthly digest for Officers" in says(off)
    person = await _person_id(bridge, ALEX)
    async with bridge.db.session() as session:
        topics = await subscriptions.topics_of(session, person)
    assert topics == {"digest:officers": False}


async def test_a_choice_covers_every_platform_of_the_person(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await say(bridge, ALEX, "/subscribe reminders")
    person = await _person_id(bridge, ALEX)
    # Alex's Slack account, linked to the same person (what /link does).
    async with bridge.db.session() as session:
        session.add(Identity(person_id=person, platform="slack", external_id="U0ALEX"))
    async with bridge.db.session() as session:
        targets = await subscriptions.broadcast_targets(session, None)
        reminders = await topic_targets(session, "reminders")
    assert sorted((t.platform, t.chat_id) for t in reminders) == [
        ("slack", "U0ALEX"),
        ("terminal", "alex"),
    ]
    assert targets == []  # announcements were not chosen


async def test_an_unknown_topic_is_explained(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    text = says(await say(bridge, ALEX, "/subscribe cats"))
    assert "There is no topic called “cats”" in text
    assert "officers (Monthly digest for Officers)" in text and "digest:" not in text
    assert says(await say(bridge, UserRef("terminal", "x"), "/unsubscribe announcements"))
