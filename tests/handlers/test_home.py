"""/home: a person's overview, built from the commands that own each part."""

from __future__ import annotations

from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import UserRef
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.store import groups, people, subscriptions
from tests.conftest import ALICE, ask

ADMIN = UserRef("terminal", "admin", display_name="Sam Admin")


def text(replies: list[Reply]) -> str:
    return "\n".join(r.plain_text for r in replies)


def actions(replies: list[Reply]) -> list[str]:
    return [b.action for r in replies for row in r.buttons for b in row]


async def test_home_shows_groups_subscriptions_events_and_search(bridge: Bridge) -> None:
    replies = await bridge.handle(ask("home"))
    shown = text(replies)
    for part in ("Groups you can join", "Your subscriptions", "Upcoming events", "Search"):
        assert part in shown
    assert "Tuesday 1 December 2026" in shown  # the Officer Network's next meeting
    assert "For admins" not in shown
    assert {"join officers", "subscribe reminders", "subscribe announcements", "search"} <= set(
        actions(replies)
    )


async def test_home_follows_memberships_and_subscriptions(bridge: Bridge) -> None:
    await bridge.handle(ask("start"))
    async with bridge.db.session() as session:
        person = await people.find_person(session, "terminal", ALICE.user_id)
        assert person is not None
        await groups.set_membership(
            session, person_id=person.id, slug="housing", status=groups.ACTIVE
        )
        await subscriptions.set_wanted(session, person.id, "digest:officers", True)
        await subscriptions.set_wanted(session, person.id, subscriptions.REMINDERS, False)
    replies = await bridge.handle(ask("home"))
    assert "leave housing" in actions(replies) and "join housing" not in actions(replies)
    assert "unsubscribe digest:officers" in actions(replies)
    assert "subscribe reminders" in actions(replies)
    assert "Monthly digest for Officers" in text(replies)


async def test_admins_see_the_number_of_waiting_requests(bridge: Bridge) -> None:
    bridge.grant_session_admin(ADMIN)
    replies = await bridge.handle(ask("home", user=ADMIN))
    assert "No join requests are waiting for approval." in text(replies)
    async with bridge.db.session() as session:
        person, _ = await people.touch(
            session, platform="terminal", external_id="x1", display_name="Alex Example",
            username=None,
        )  # fmt: skip
        await groups.set_membership(
            session, person_id=person.id, slug="officers", status=groups.PENDING
        )
    replies = await bridge.handle(ask("home", user=ADMIN))
    assert "1 join request waiting for approval." in text(replies)
    assert "pending" in actions(replies)
