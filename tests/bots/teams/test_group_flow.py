"""Joining a group on Teams with an admin's approval, end to end: cards and buttons in, the
approval card and the outcome pushed proactively by the outbox's real delivery lanes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ccin_bridge.bots.teams.adapter import TeamsAdapter
from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.store import groups, people
from ccin_bridge.store.db import Database
from tests.bots.teams.conftest import ADA, Card, Person, Teams, cards_of
from tests.conftest import Clock
from tests.fakes.teams_connector import FakeConnector

DANA = Person("0e0e0e0e-0000-4000-8000-00000000000e", "29:dana-admin", "Dana Admin")
WITHIN = 10.0  # a safety net for each wait on the delivery lanes, never what is checked


@pytest.fixture
async def bridge(settings: Settings, sqlite_db: Database, clock: Clock) -> Bridge:
    with_admin = settings.model_copy(update={"admins": [f"teams:{DANA.aad}"]})
    b = Bridge(with_admin, sqlite_db, all_commands(), clock=clock)
    await b.start()
    return b


@pytest.fixture
async def delivery(sqlite_db: Database, adapter: TeamsAdapter) -> AsyncIterator[DeliveryService]:
    service = DeliveryService(
        sqlite_db, {adapter.platform: adapter}, DeliveryPolicy(lanes=1, poll_seconds=0.05)
    )
    await service.start()
    yield service
    await service.stop()


async def pushed_to(
    connector: FakeConnector, delivery: DeliveryService, person: Person, needle: str
) -> Card:
    async with asyncio.timeout(WITHIN):
        await delivery.drain()
    found = [
        c
        for c in cards_of(connector.sent)
        if c.conversation_id == person.personal and needle in c.text
    ]
    assert found, f"nothing with {needle!r} in {person.name}'s chat"
    return found[-1]


async def test_join_with_an_admins_approval(
    teams: Teams, connector: FakeConnector, delivery: DeliveryService, sqlite_db: Database
) -> None:
    await teams.say("help", DANA)  # the bridge has met the admin: it can write to her first
    (rules,) = await teams.say("join officers")
    assert "Officer Network: rules of engagement (version 1)" in rules.text
    assert rules.labels == ["I accept", "Cancel"]
    (ask_org,) = await teams.press(rules, "I accept")
    assert "Which organisation are you from?" in ask_org.text
    (orgs,) = await teams.say("Manchester")  # a flow's answer, typed in the personal chat
    assert "Manchester City Council" in orgs.labels
    (ask_role,) = await teams.press(orgs, "Manchester City Council")
    assert "And your role?" in ask_role.text
    (waiting,) = await teams.press(ask_role, "Officers")
    assert "is waiting for a network admin to approve it" in waiting.text

    card = await pushed_to(connector, delivery, DANA, "Join request #")
    assert "Officer Network" in card.text and "Ada Example" in card.text
    assert {"Approve", "Decline"} <= set(card.labels)
    approved = await teams.press(card, "Approve", DANA)
    assert approved and all(c.conversation_id == DANA.personal for c in approved)

    welcome = await pushed_to(connector, delivery, ADA, "has been approved")
    assert "Welcome to Officer Network" in welcome.text
    async with sqlite_db.session() as session:
        person = await people.find_person(session, "teams", ADA.aad)
        assert person is not None
        membership = await groups.membership(session, person.id, "officers")
    assert membership is not None and membership.status == groups.ACTIVE
