"""The whole group flow in the terminal chat: the same steps as on Telegram and Slack.

Each person has their own real `TerminalChat` (typed lines, numbers for buttons); the outbox's
delivery lanes run with the terminals as the Outbound, so the approval card, the welcome and
the decline reach the other terminal as pushes. The terminal has no group chats of its own,
so no invitation or removal is involved (the officers' Telegram group and Slack channel are
bound, but nobody here has an account there); the conversation is checked as printed.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from ccin_bridge.bots.terminal.chat import TerminalChat
from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Chats, Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.scheduler.outbound import Away
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import ChatAction
from tests.conftest import Clock

# A safety net for each wait on the delivery lanes, never the thing a test checks.
WITHIN = 10.0


class Terminal:
    """One person at a terminal, and what has been printed to them since they last looked."""

    def __init__(self, bridge: Bridge, name: str) -> None:
        self.out = io.StringIO()
        self.chat = TerminalChat(bridge, name=name, stdin=io.StringIO(""), stdout=self.out)
        self._read = 0

    async def say(self, line: str) -> str:
        await self.chat.say(line)
        return self.news()

    def news(self) -> str:
        text = self.out.getvalue()[self._read :]
        self._read += len(text)
        return text


class Terminals:
    """Several terminals in one process: each push goes to the person it is for."""

    platform = "terminal"

    def __init__(self, *people: Terminal) -> None:
        self.people = people

    async def send(self, *, chat: ChatRef, reply: Reply) -> None:
        for person in self.people:
            if chat.chat_id in (person.chat.user.user_id, person.chat.chat.chat_id):
                await person.chat.send(chat=chat, reply=reply)
                return
        raise Away("nobody at that terminal")


@dataclass
class Flow:
    bridge: Bridge
    delivery: DeliveryService
    alice: Terminal
    bob: Terminal
    dana: Terminal

    async def delivered(self) -> None:
        """Until the lanes have sent everything queued so far."""
        async with asyncio.timeout(WITHIN):
            await self.delivery.drain()


@pytest.fixture
async def flow(settings: Settings, sqlite_db: Database, clock: Clock) -> AsyncIterator[Flow]:
    # The officers have a Telegram group and a Slack channel; nobody here uses either.
    chats = Chats({"telegram": [-100200300], "slack": ["C0OFFICERS"]})
    groups = [
        g.model_copy(update={"chats": chats}) if g.slug == "officers" else g
        for g in settings.groups
    ]
    bound = settings.model_copy(update={"groups": groups, "admins": ["terminal:dana"]})
    bridge = Bridge(bound, sqlite_db, all_commands(), clock=clock)
    await bridge.start()
    alice, bob, dana = (Terminal(bridge, n) for n in ("Alice Example", "Bob Sample", "Dana"))
    delivery = DeliveryService(
        sqlite_db, {"terminal": Terminals(alice, bob, dana)}, DeliveryPolicy(poll_seconds=0.05)
    )
    await delivery.start()
    try:
        yield Flow(bridge, delivery, alice, bob, dana)
    finally:
        await delivery.stop()


async def ask_to_join(person: Terminal) -> None:
    """The officers' join steps, by typing and by numbers for the buttons."""
    rules = await person.say("/join officers")
    assert "== Officer Network: rules of engagement (version 1) ==" in rules
    assert "[1] I accept   [2] Cancel" in rules
    assert "Which organisation are you from?" in await person.say("1")
    orgs = await person.say("Manchester")
    assert "[1] Greater Manchester Combined Authority (GMCA)" in orgs
    assert "[2] Manchester City Council" in orgs
    role = await person.say("2")
    assert "And your role?" in role and "[1] Officers" in role
    waiting = await person.say("1")
    assert "is waiting for a network admin to approve it" in waiting


async def test_join_approve_and_leave_at_the_terminal(flow: Flow) -> None:
    await flow.dana.say("/start")  # an admin by config, now known to the bridge
    await ask_to_join(flow.alice)
    await flow.delivered()
    card = flow.dana.news()
    assert "— message from the bridge —" in card
    assert "Join request #1: Officer Network" in card
    assert "Alice Example" in card and "Manchester City Council (Full)" in card
    # Numbered after the home menu still on her screen ([1] to [4]): those stay as they were.
    assert "[5] Approve   [6] Decline" in card

    assert "Approved #1" in await flow.dana.say("5")
    await flow.delivered()
    welcome = flow.alice.news()
    assert "== Welcome to Officer Network ==" in welcome
    assert "remove yourself at any time with /leave officers." in welcome

    assert "[member]" in await flow.alice.say("/groups")
    left = await flow.alice.say("/leave officers")
    assert "You have left Officer Network." in left
    assert "rejoin whenever you like with /join officers" in left
    assert "[member]" not in await flow.alice.say("/groups")
    # Her only account is this terminal: no invitation or removal was queued for the
    # Telegram group or the Slack channel, which she has no account to be added with.
    async with flow.bridge.db.session() as session:
        assert list(await session.scalars(select(ChatAction))) == []


async def test_a_decline_with_a_reason_reaches_the_person_at_the_terminal(flow: Flow) -> None:
    await flow.dana.say("/start")
    await ask_to_join(flow.bob)
    await flow.delivered()
    assert "Join request #1: Officer Network" in flow.dana.news()

    why = await flow.dana.say("6")  # the card's Decline, after the home menu's four
    assert "Why are you declining #1?" in why
    assert "[1] Decline without a reason   [2] Cancel" in why
    assert "Declined #1." in await flow.dana.say("Not an officer of a member council.")
    await flow.delivered()
    notice = flow.bob.news()
    assert "Your request to join Officer Network was not approved." in notice
    assert "The admins said: Not an officer of a member council." in notice
    # Declined is not barred: he may ask again, starting from the rules.
    assert "rules of engagement" in await flow.bob.say("/join officers")
