"""The whole group flow on Slack, end to end through the real adapter.

The real Bolt app takes signed slash commands, button presses and events over HTTP; the
outbox's delivery lanes and the chat-action worker run beside it with the adapter as their
Outbound and ChatAdmin, as bridge/background.py wires them. The officers' group is bound to a
channel of the fake Slack, and what is asserted is what the fake recorded: messages, invites
and kicks. (The `fake` fixture also fails the test if Slack would have refused a message.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from ccin_bridge.bots.slack.adapter import SlackAdapter
from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Chats, Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.scheduler.chat_actions import ChatActionPolicy, ChatActionService
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.store import people
from ccin_bridge.store.db import Database
from tests.bots.slack.sender import (
    ALICE,
    BOB,
    SIGNING_SECRET,
    Person,
    SlackSender,
    buttons,
    direct_message,
)
from tests.conftest import Clock
from tests.fakes.slack_api import BOT_USER_ID, Call, FakeSlack

OFFICERS = "C0OFFICERS"
DANA = Person("UDANA", "dana")  # a network admin by config
# A safety net for each wait on the background workers, never the thing a test checks.
WITHIN = 10.0
APPROVAL = "Join request #"


def dm_of(person: Person) -> tuple[str, str]:
    """The bot's DM with a person, as the fake opens it and as Slack names it in payloads."""
    return "D" + person.id.removeprefix("U"), "directmessage"


def labels(message: Call) -> list[str]:
    return [b["text"]["text"] for b in buttons(message)]


def bound(settings: Settings) -> Settings:
    groups = [
        g.model_copy(update={"chats": Chats({"slack": [OFFICERS]})}) if g.slug == "officers" else g
        for g in settings.groups
    ]
    return settings.model_copy(update={"groups": groups, "admins": [f"slack:{DANA.id}"]})


@dataclass
class Flow:
    slack: SlackSender
    fake: FakeSlack
    delivery: DeliveryService

    async def delivered(self) -> None:
        """Until the delivery lanes have sent everything queued so far."""
        async with asyncio.timeout(WITHIN):
            await self.delivery.drain()

    def posted_to(self, person: Person, needle: str) -> list[Call]:
        """Messages the bot posted in this person's DM (not answers along a response_url)."""
        return [
            c
            for c in self.fake.delivered("chat.postMessage")
            if c.args.get("channel") == dm_of(person)[0] and needle in c.text
        ]

    async def arrives(self, person: Person, needle: str) -> Call:
        """The latest DM to `person` containing `needle`, once the workers post one."""
        await self.fake.wait_for(lambda: bool(self.posted_to(person, needle)), WITHIN)
        await self.slack.adapter.drain()
        return self.posted_to(person, needle)[-1]

    async def type_in_dm(self, person: Person, text: str, needle: str) -> Call:
        """`person` writes plain text in their DM with the bot; the answer containing `needle`."""
        assert (await self.slack.event(direct_message(text, user=person))).status == 200
        return await self.arrives(person, needle)

    async def event(self, kind: str, person: Person, channel: str = OFFICERS) -> None:
        answer = await self.slack.event({"type": kind, "user": person.id, "channel": channel})
        assert answer.status == 200
        await self.slack.adapter.drain()


@pytest.fixture
async def flow(
    settings: Settings, sqlite_db: Database, clock: Clock, fake: FakeSlack
) -> AsyncIterator[Flow]:
    fake.add_user(DANA.id, DANA.handle, "Dana Admin")
    fake.add_channel(OFFICERS)  # the bot is in it, as an admin of it
    bridge = Bridge(bound(settings), sqlite_db, all_commands(), clock=clock)
    await bridge.start()
    adapter = SlackAdapter(
        bridge,
        bot_token=fake.token,
        signing_secret=SIGNING_SECRET,
        api_url=fake.api_url,
        host="127.0.0.1",
        port=0,
    )
    platforms = {adapter.platform: adapter}
    delivery = DeliveryService(sqlite_db, platforms, DeliveryPolicy(lanes=2, poll_seconds=0.05))
    chat_actions = ChatActionService(
        sqlite_db, platforms, ChatActionPolicy(poll_seconds=0.05), settings=bridge.settings
    )
    await adapter.start()
    await delivery.start()
    await chat_actions.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield Flow(SlackSender(session, adapter, fake), fake, delivery)
    finally:
        await chat_actions.stop()
        await delivery.stop()
        await adapter.stop()


async def ask_to_join(flow: Flow, person: Person) -> None:
    """`person` walks the join steps for the officers: rules, organisation, role."""
    slack = flow.slack
    [rules] = await slack.ask("join officers", user=person)
    assert "Officer Network: rules of engagement (version 1)" in rules.text
    assert "This space is for officers of member councils only" in rules.text
    assert labels(rules) == ["I accept", "Cancel"]
    [ask_org] = await slack.press(rules, "I accept", user=person)
    assert "Which organisation are you from?" in ask_org.text
    # On Slack a flow goes on with plain text in the bot's DM.
    orgs = await flow.type_in_dm(person, "Manchester", "Which one is yours?")
    assert labels(orgs)[:2] == [
        "Greater Manchester Combined Authority (GMCA)",
        "Manchester City Council",
    ]
    [ask_role] = await slack.press(orgs, "Manchester City Council", person, dm_of(person))
    assert "And your role?" in ask_role.text
    [waiting] = await slack.press(ask_role, "Officers", person, dm_of(person))
    assert "is waiting for a network admin to approve it" in waiting.text
    assert "/ccin leave" in waiting.text


async def test_join_approve_added_to_the_channel_then_leave(flow: Flow) -> None:
    slack, fake = flow.slack, flow.fake
    await slack.ask("help", user=DANA)  # the bridge has met the admin, so it can write to her
    await ask_to_join(flow, ALICE)

    card = await flow.arrives(DANA, APPROVAL)
    assert "Officer Network" in card.text and "Alice Example" in card.text
    assert "Manchester City Council (Full)" in card.text
    assert {"Approve", "Decline"} <= set(labels(card))
    assert fake.api_calls("conversations.invite") == []  # nothing before an admin says yes

    [done] = await slack.press(card, "Approve", DANA, dm_of(DANA))
    assert "1 chat invitation queued" in done.text

    welcome = await flow.arrives(ALICE, "has been approved")
    assert "Welcome to Officer Network" in welcome.text
    # Slack's own /leave would only leave a channel: the bridge's is spelled out.
    assert "remove yourself at any time with /ccin leave officers." in welcome.text
    await flow.arrives(ALICE, "You have been added to the")
    [invited] = fake.delivered("conversations.invite")
    assert invited.args == {"channel": OFFICERS, "users": ALICE.id}
    assert fake.channels[OFFICERS] == [BOT_USER_ID, ALICE.id]
    # Slack then tells the bot she joined: she is approved, so nobody is alarmed.
    await flow.event("member_joined_channel", ALICE)

    [left] = await slack.ask("leave officers")
    assert "You have left *Officer Network*" in left.text
    assert "taking you out of the group's chats" in left.text
    await fake.wait_for(lambda: bool(fake.delivered("conversations.kick")), WITHIN)
    [kicked] = fake.delivered("conversations.kick")
    assert kicked.args == {"channel": OFFICERS, "user": ALICE.id}
    assert fake.channels[OFFICERS] == [BOT_USER_ID]
    await flow.event("member_left_channel", ALICE)
    await flow.delivered()
    assert flow.posted_to(DANA, "without approval") == []  # she was approved when she joined


async def test_an_unapproved_member_is_flagged_and_a_decline_reason_reaches_the_person(
    flow: Flow,
) -> None:
    slack, fake = flow.slack, flow.fake
    await slack.ask("help", user=DANA)
    await ask_to_join(flow, BOB)
    card = await flow.arrives(DANA, APPROVAL)

    # Someone added Bob to the channel by hand before any approval: the admins hear of it.
    fake.channels[OFFICERS].append(BOB.id)
    await flow.event("member_joined_channel", BOB)
    flagged = await flow.arrives(DANA, "Someone joined without approval")
    assert "Bob Sample (@bob)" in flagged.text and "Officer Network" in flagged.text
    assert "/ccin join officers" in flagged.text

    # The admin declines with a reason, typed in her DM as the answer to the bot's question.
    [why] = await slack.press(card, "Decline", DANA, dm_of(DANA))
    assert "Why are you declining" in why.text
    assert labels(why) == ["Decline without a reason", "Cancel"]
    done = await flow.type_in_dm(
        DANA, "The Officer Network is for council officers only.", "Declined #"
    )
    assert done.args["channel"] == dm_of(DANA)[0]
    notice = await flow.arrives(BOB, "was not approved")
    assert "The admins said: _The Officer Network is for council officers only._" in notice.text

    # No invitation was ever made for him, and nobody was added by the bot.
    assert fake.api_calls("conversations.invite") == []
    assert fake.api_calls("conversations.kick") == []


async def test_commands_and_buttons_know_people_by_name_not_handle(
    flow: Flow, sqlite_db: Database
) -> None:
    # A slash command carries only the handle; an admin judging a request needs the name.
    carol = Person("UCAROL", "carol")
    await flow.slack.ask("help")
    flow.fake.fail("users.info", "user_not_found")  # Slack cannot say: the handle stands in
    await flow.slack.ask("help", user=carol)
    async with sqlite_db.session() as session:
        alice = await people.find_person(session, "slack", ALICE.id)
        someone = await people.find_person(session, "slack", carol.id)
    assert alice is not None and alice.display_name == "Alice Example"
    assert someone is not None and someone.display_name == "carol"
