"""Leaving a group, or being removed from it, ends the subscriptions that came with it."""

from __future__ import annotations

from sqlalchemy import select

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import UserRef
from ccin_bridge.store import people, subscriptions
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Push
from tests.conftest import Clock
from tests.handlers.groups_support import (
    ADMIN,
    ALEX_TG,
    approve_all,
    join_officers,
    make_bridge,
    say,
    texts,
)


async def _topics(bridge: Bridge, user: UserRef) -> dict[str, bool]:
    async with bridge.db.read() as session:
        person = await people.find_person(session, user.platform, user.user_id)
        assert person is not None
        return await subscriptions.topics_of(session, person.id)


async def _member_of_officers(bridge: Bridge) -> None:
    await say(bridge, ADMIN, "/help")
    await join_officers(bridge, ALEX_TG)
    await approve_all(bridge)
    assert await _topics(bridge, ALEX_TG) == {
        "digest:officers": True,
        "reminders": True,
        "announcements": True,
    }


async def test_leaving_ends_the_groups_digest_and_announcements_and_says_so(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    await _member_of_officers(bridge)
    said = texts(await say(bridge, ALEX_TG, "/leave officers"))
    assert "You have left Officer Network." in said
    assert (
        "The subscriptions that came with the group have ended: Monthly digest for Officers "
        "and Announcements from the network. You can subscribe again with /subscribe."
    ) in said
    # Event reminders are open to everyone and stay; nothing is turned into an opt-out.
    assert await _topics(bridge, ALEX_TG) == {"reminders": True}
    async with bridge.db.read() as session:
        assert await subscriptions.broadcast_targets(session, "officers") == []
        assert await subscriptions.broadcast_targets(session, None) == []


async def test_joining_again_brings_the_subscriptions_back(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    await _member_of_officers(bridge)
    await say(bridge, ALEX_TG, "/leave officers")
    await join_officers(bridge, ALEX_TG)
    await approve_all(bridge)
    assert (await _topics(bridge, ALEX_TG))["digest:officers"] is True


async def test_an_opt_out_stays_and_another_group_keeps_the_announcements(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    await _member_of_officers(bridge)
    await say(bridge, ALEX_TG, "/join housing --accept")  # an open group with no digest
    await say(bridge, ALEX_TG, "Oxford City Council")
    assert "now a member of Housing" in texts(await say(bridge, ALEX_TG, "officers"))
    await say(bridge, ALEX_TG, "/unsubscribe officers")
    said = texts(await say(bridge, ALEX_TG, "/leave officers"))
    assert "have ended" not in said and "has ended" not in said
    assert await _topics(bridge, ALEX_TG) == {
        "digest:officers": False,
        "reminders": True,
        "announcements": True,
    }
    said = texts(await say(bridge, ALEX_TG, "/leave housing"))
    assert (
        "The subscription that came with the group has ended: Announcements from the network."
    ) in said


async def test_a_removed_member_is_told_their_subscriptions_ended(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    await _member_of_officers(bridge)
    done = texts(await say(bridge, ADMIN, "/remove officers @alexexample"))
    assert (
        "Subscriptions ended: Monthly digest for Officers and Announcements from the network."
    ) in done
    assert await _topics(bridge, ALEX_TG) == {"reminders": True}
    async with bridge.db.read() as session:
        notices = [
            str(p) for p in await session.scalars(select(Push.payload).where(Push.kind == "notice"))
        ]
    [removal] = [n for n in notices if "has removed you" in n]
    assert "The subscriptions that came with the group have ended" in removal


async def test_leaving_keeps_what_the_person_subscribed_to_themselves(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    """Announcements chosen before joining, and the digest chosen by hand after the group's
    defaults made it, are the person's own: leaving the group ends neither."""
    bridge = await make_bridge(settings, sqlite_db, clock)
    await say(bridge, ADMIN, "/help")
    assert "now subscribed" in texts(await say(bridge, ALEX_TG, "/subscribe announcements"))
    await join_officers(bridge, ALEX_TG)
    await approve_all(bridge)
    await say(bridge, ALEX_TG, "/subscribe officers")  # the defaults' digest, now chosen
    said = texts(await say(bridge, ALEX_TG, "/leave officers"))
    assert "You have left Officer Network." in said
    assert "have ended" not in said and "has ended" not in said
    assert await _topics(bridge, ALEX_TG) == {
        "announcements": True,
        "digest:officers": True,
        "reminders": True,
    }


async def test_a_removal_ends_only_what_the_group_brought(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    await say(bridge, ADMIN, "/help")
    await say(bridge, ALEX_TG, "/subscribe announcements")
    await join_officers(bridge, ALEX_TG)
    await approve_all(bridge)
    done = texts(await say(bridge, ADMIN, "/remove officers @alexexample"))
    assert "Subscriptions ended: Monthly digest for Officers." in done
    assert await _topics(bridge, ALEX_TG) == {"announcements": True, "reminders": True}
