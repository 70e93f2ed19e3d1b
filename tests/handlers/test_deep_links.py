"""Deep links: `/start <payload>` drops the person straight into one flow."""

from __future__ import annotations

import pytest

from ccin_bridge.handlers import deep_links
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.deep_links import Intent
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.store import people, subscriptions
from ccin_bridge.store.db import Database
from tests.conftest import ALICE, Clock, ask
from tests.handlers.groups_support import ALEX_SLACK, make_bridge, say, texts


def says(replies: list[Reply]) -> str:
    return "\n".join(r.plain_text for r in replies)


def actions(replies: list[Reply]) -> list[str]:
    return [b.action for r in replies for row in r.buttons for b in row]


@pytest.mark.parametrize(
    ("payload", "intent"),
    [
        ("join_officers", Intent("join", "officers")),
        ("join_health-care", Intent("join", "health-care")),
        ("JOIN_Officers", Intent("join", "officers")),
        ("subscribe_leaders", Intent("subscribe", "leaders")),
        ("subscribe_digest-leaders", Intent("subscribe", "digest leaders")),
        ("search_community-wealth", Intent("search", "community wealth")),
        ("search_community_wealth_building", Intent("search", "community wealth building")),
        ("events", Intent("events")),
    ],
)
def test_payloads_name_intents(payload: str, intent: Intent) -> None:
    assert deep_links.parse(payload) == intent


@pytest.mark.parametrize(
    "payload",
    ["", "join", "join_", "events_tomorrow", "knit_socks", "search_caf\u00e9", "a" * 65, "x y"],
)
def test_malformed_or_unknown_payloads_name_none(payload: str) -> None:
    assert deep_links.parse(payload) is None


def test_payloads_are_built_for_links_and_read_back() -> None:
    assert deep_links.payload("search", "community wealth") == "search_community-wealth"
    assert deep_links.payload("join", "officers") == "join_officers"
    assert deep_links.payload("events") == "events"
    for built in ("search_community-wealth", "join_officers", "events"):
        assert deep_links.parse(built) is not None
    with pytest.raises(ValueError, match="cannot be put in a link"):
        deep_links.payload("search", "café au lait")
    with pytest.raises(ValueError, match="cannot be put in a link"):
        deep_links.payload("search", "word " * 20)  # over Telegram's 64 characters


async def test_a_join_link_opens_the_groups_rules(bridge: Bridge) -> None:
    replies = await bridge.handle(ask("start", "join_officers"))
    said = says(replies)
    assert "Hello Alice Example, welcome to the" in said
    assert "Officer Network: rules of engagement (version 1)" in said
    assert "join officers --accept v1" in actions(replies)
    # The flow goes on as if /join had been typed.
    after = says(await bridge.handle(ask("join", "officers --accept")))
    assert "Which organisation are you from?" in after


async def test_a_subscribe_link_subscribes(bridge: Bridge) -> None:
    said = says(await bridge.handle(ask("start", "subscribe_leaders")))
    assert "You are now subscribed to: Monthly digest for Leaders and Mayors." in said
    async with bridge.db.read() as session:
        person = await people.find_person(session, "terminal", ALICE.user_id)
        assert person is not None
        assert await subscriptions.topics_of(session, person.id) == {"digest:leaders": True}


async def test_search_and_events_links_answer_at_once(bridge: Bridge) -> None:
    found = says(await bridge.handle(ask("start", "search_sustainable-food")))
    assert "Cooperative Approaches to Sustainable Food" in found
    events = says(await bridge.handle(ask("start", "events")))
    assert "Upcoming events" in events


async def test_an_unknown_link_gets_the_welcome_and_a_note(bridge: Bridge) -> None:
    plain = await bridge.handle(ask("start"))
    for payload in ("knit_socks", "events_tomorrow", "%%%"):
        replies = await bridge.handle(ask("start", payload))
        [reply] = replies
        assert "The link you followed did not lead anywhere I know" in reply.plain_text
        assert actions(replies) == actions(plain)
    assert "did not lead anywhere" not in says(plain)


async def test_a_link_to_a_group_or_topic_that_is_gone_says_which(bridge: Bridge) -> None:
    [reply] = await bridge.handle(ask("start", "join_knitting"))
    assert "I could not follow that link. There is no group called “knitting”" in reply.plain_text
    assert "welcome to the" in reply.plain_text
    [reply] = await bridge.handle(ask("start", "subscribe_cats"))
    assert "I could not follow that link. There is no topic called “cats”" in reply.plain_text
    async with bridge.db.read() as session:
        person = await people.find_person(session, "terminal", ALICE.user_id)
        assert person is not None
        assert await subscriptions.topics_of(session, person.id) == {}


async def test_the_same_words_typed_on_slack_open_the_same_flow(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    # Slack links carry no payload, but `/ccin start join_officers` reaches the same parser.
    bridge = await make_bridge(settings, sqlite_db, clock)
    said = texts(await say(bridge, ALEX_SLACK, "start join_officers"))
    assert "Officer Network: rules of engagement (version 1)" in said
