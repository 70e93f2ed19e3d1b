"""/home and /subscribe name topics in one wording, never by their keys."""

from __future__ import annotations

import re

from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.store import people, subscriptions
from tests.conftest import ALICE, ask


def says(replies: list[Reply]) -> str:
    return "\n".join(r.plain_text for r in replies)


def labels(replies: list[Reply]) -> list[str]:
    return [b.label for r in replies for row in r.buttons for b in row]


async def _alice(bridge: Bridge) -> int:
    await bridge.handle(ask("help"))
    async with bridge.db.read() as session:
        person = await people.find_person(session, "terminal", ALICE.user_id)
    assert person is not None
    return person.id


async def test_home_and_subscribe_name_topics_the_same_way(bridge: Bridge) -> None:
    person_id = await _alice(bridge)
    async with bridge.db.session() as session:
        await subscriptions.set_wanted(session, person_id, "digest:leaders", True)
    home = await bridge.handle(ask("home"))
    chosen = await bridge.handle(ask("subscribe"))
    home_buttons = {b for b in labels(home) if "subscribe" in b.casefold()}
    subscribe_buttons = set(labels(chosen))
    assert "Unsubscribe: Monthly digest for Leaders and Mayors" in home_buttons
    assert home_buttons <= subscribe_buttons  # /home shows fewer topics, worded the same
    assert {
        "Subscribe: Event reminders",
        "Subscribe: Announcements from the network",
        "Subscribe: Monthly digest for Officers",
    } <= subscribe_buttons
    for shown in (says(home), says(chosen), *home_buttons, *subscribe_buttons):
        assert not re.search(r"digest[: ](officers|leaders|champions|members)\b", shown), shown
    assert "Monthly digest for Leaders and Mayors" in says(home)
    assert "Monthly digest for Leaders and Mayors" in says(chosen)


async def test_a_topic_can_be_chosen_by_the_name_it_is_shown_with(bridge: Bridge) -> None:
    said = says(await bridge.handle(ask("subscribe", "Monthly digest for Leaders and Mayors")))
    assert "You are now subscribed to: Monthly digest for Leaders and Mayors." in said
