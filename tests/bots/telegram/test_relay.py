"""A group's conversation relayed between its Telegram group and its Slack channel.

The real PTB Application long-polls the fake Bot API and the real Bolt app takes signed events
over HTTP, with the outbox's delivery lanes sending through both adapters, as
bridge/background.py wires them. People post, reply, edit and delete in the platforms' own wire
format; everything asserted is what the fakes recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, text

from ccin_bridge.bots.slack.adapter import SlackAdapter
from ccin_bridge.bots.telegram.adapter import TelegramBot
from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Chats, Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.membership import forget
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.scheduler.outbound import Outbound
from ccin_bridge.store import groups, people
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import (
    Base,
    Delivery,
    Identity,
    Organisation,
    Push,
    RelayCopy,
    RelayMessage,
)
from tests.bots.slack.sender import SIGNING_SECRET, Person, SlackSender
from tests.bots.telegram.conftest import ALICE, BOB, DANA, GROUP, Harness
from tests.conftest import Clock
from tests.fakes.slack_api import BOT_ID, FakeSlack
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, SentMessage, TgChat

WITHIN = 20.0  # a safety net for each wait on the background workers
CHANNEL = "C0OFFICERS"
LEADERS_CHANNEL = "C0LEADERS"
OLIVE = Person("UOLIVE", "olive")  # on Slack only


def relaying(settings: Settings, leaders: Chats | None = None) -> Settings:
    """Officers relaying between GROUP and CHANNEL; leaders too, in these chats, if given."""
    chats = {"officers": Chats({"telegram": [GROUP.id], "slack": [CHANNEL]})}
    if leaders is not None:
        chats["leaders"] = leaders
    groups_ = [
        g.model_copy(update={"chats": chats[g.slug], "relay": True}) if g.slug in chats else g
        for g in settings.groups
    ]
    return settings.model_copy(update={"groups": groups_, "admins": [f"telegram:{DANA.id}"]})


@dataclass
class Relay:
    tg: Harness
    slack: SlackSender
    db: Database
    delivery: DeliveryService

    async def drained(self) -> None:
        async with asyncio.timeout(WITHIN):
            await self.delivery.drain()

    @property
    def api(self) -> FakeTelegramAPI:
        return self.tg.api

    @property
    def fake(self) -> FakeSlack:
        return self.slack.fake

    def copies_on_slack(self) -> list[dict[str, Any]]:
        return [c.args for c in self.fake.delivered("chat.postMessage") if c.args.get("username")]

    def copies_on_telegram(self) -> list[SentMessage]:
        return [m for m in self.api.sent_to(GROUP.id) if "via Slack" in m.text]

    async def slack_posts(self, event: dict[str, Any]) -> None:
        answer = await self.slack.event(event)
        assert answer.status == 200, answer


async def approve(db: Database, platform: str, user_id: str, name: str, org: str) -> None:
    async with db.session() as session:
        person = await people.touch_identity(
            session, platform=platform, external_id=user_id, display_name=name, username=None
        )
        org_id = await session.scalar(select(Organisation.id).where(Organisation.name == org))
        await people.set_profile(session, person.id, organisation_id=org_id, role="officers")
        await groups.set_membership(
            session, person_id=person.id, slug="officers", status=groups.ACTIVE
        )


@pytest.fixture
def leaders() -> Chats | None:
    return None  # a test binding the leaders' group too says where


@pytest.fixture
async def relay(
    settings: Settings,
    sqlite_db: Database,
    clock: Clock,
    fake_api: FakeTelegramAPI,
    leaders: Chats | None,
) -> AsyncIterator[Relay]:
    fake = FakeSlack()
    await fake.start()
    fake.add_user(OLIVE.id, OLIVE.handle, "Olive Example")
    fake.add_channel(CHANNEL, OLIVE.id)
    fake.add_channel(LEADERS_CHANNEL, OLIVE.id)
    bridge = Bridge(relaying(settings, leaders), sqlite_db, all_commands(), clock=clock)
    await bridge.start()
    fake_api.add_group(GROUP)
    await approve(sqlite_db, "telegram", str(ALICE.id), "Alice Example", "Manchester City Council")
    await approve(sqlite_db, "slack", OLIVE.id, "Olive Example", "Oldham Council")
    bot = TelegramBot(
        bridge,
        token=TOKEN,
        base_url=fake_api.base_url,
        poll_timeout=2,
        read_timeout=5,
        rate_limits=(1000.0, 1000.0),
    )
    adapter = SlackAdapter(
        bridge,
        bot_token=fake.token,
        signing_secret=SIGNING_SECRET,
        api_url=fake.api_url,
        host="127.0.0.1",
        port=0,
        relay_per_second=50,  # Slack's 1 a second per channel, sped up for the test
    )
    outbound: dict[str, Outbound] = {"telegram": bot, "slack": adapter}
    delivery = DeliveryService(sqlite_db, outbound, DeliveryPolicy(lanes=2, poll_seconds=0.05))
    await bot.start()
    await adapter.start()
    await delivery.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield Relay(
                Harness(fake_api, bot), SlackSender(session, adapter, fake), sqlite_db, delivery
            )
    finally:
        await delivery.stop()
        await adapter.stop()
        await bot.stop()
        await fake.stop()
    assert [(c.name, c.error, c.answer) for c in fake.bad_messages()] == []


async def tables_holding(db: Database, needle: str) -> list[str]:
    """Every table with a row in which this text appears, in any column."""
    found = []
    async with db.read() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(text(f"SELECT * FROM {table.name}"))).all()
            if any(needle in str(row) for row in rows):
                found.append(table.name)
    return found


def bold(offset: int, length: int) -> dict[str, Any]:
    return {"type": "bold", "offset": offset, "length": length}


async def test_text_both_ways_with_attribution_formatting_threads_edits_and_deletes(
    relay: Relay,
) -> None:
    api, fake = relay.api, relay.fake
    # Telegram -> Slack: bold, italic, a link and a list, under her name and organisation.
    text = "Budget <draft> & notes\n\n- first point\n- second"
    entities = [
        bold(0, 6),
        {"type": "text_link", "offset": 7, "length": 7, "url": "https://example.org/a?b=1&c=2"},
        {"type": "italic", "offset": 17, "length": 5},
    ]
    original = await api.push_group_post(ALICE, text, GROUP, entities=entities)
    await fake.wait_for(lambda: len(relay.copies_on_slack()) == 1, WITHIN)
    [copy] = relay.copies_on_slack()
    assert copy["channel"] == CHANNEL
    assert copy["username"] == "Alice Example, Manchester City Council — via Telegram"
    mrkdwn = str(copy["blocks"])
    assert "*Budget*" in mrkdwn and "<https://example.org/a?b=1&amp;c=2|&lt;draft&gt;>" in mrkdwn
    assert "_notes_" in mrkdwn and "first point" in mrkdwn and "second" in mrkdwn
    assert "&amp;" in mrkdwn  # escaped where Slack needs it
    sections = [b["text"] for b in copy["blocks"] if b["type"] == "section"]
    assert sections and all(t["verbatim"] is True for t in sections)  # no @channel pings

    # Slack -> Telegram: a rich_text message with bold and code.
    rich = [
        {
            "type": "rich_text",
            "block_id": "r1",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "text", "text": "Thanks, "},
                        {"type": "text", "text": "agreed", "style": {"bold": True}},
                        {"type": "text", "text": " see "},
                        {"type": "text", "text": "<x>", "style": {"code": True}},
                    ],
                }
            ],
        }
    ]
    olive_says = fake.post_as(OLIVE.id, CHANNEL, "Thanks, *agreed* see `&lt;x&gt;`", rich)
    await relay.slack_posts(olive_says)
    await api.wait_for(lambda: len(relay.copies_on_telegram()) == 1, WITHIN)
    [tg_copy] = relay.copies_on_telegram()
    assert "<b>Olive Example, Oldham Council</b>" in tg_copy.html
    assert "<b>agreed</b>" in tg_copy.html and "<code>&lt;x&gt;</code>" in tg_copy.html

    # A Slack reply in the thread of Alice's copy answers her original on Telegram ...
    slack_copy_ts = next(
        ts for (ch, ts), m in fake.messages.items() if ch == CHANNEL and m.get("username")
    )
    threaded = fake.post_as(OLIVE.id, CHANNEL, "In thread", thread_ts=slack_copy_ts)
    await relay.slack_posts(threaded)
    await api.wait_for(lambda: len(relay.copies_on_telegram()) == 2, WITHIN)
    reply_copy = relay.copies_on_telegram()[-1]
    assert reply_copy.raw["reply_to_message"]["message_id"] == original["message_id"]
    # ... and a Telegram reply to Olive's copy goes into the Slack thread of her original.
    await api.push_group_post(ALICE, "Answering Olive", GROUP, reply_to=tg_copy.raw)
    await fake.wait_for(lambda: len(relay.copies_on_slack()) == 2, WITHIN)
    assert relay.copies_on_slack()[-1]["thread_ts"] == olive_says["ts"]

    # Edits follow: Telegram's edited_message updates the Slack copy, and back.
    await api.push_edit(original, "Budget final", [bold(0, 6)])
    await fake.wait_for(lambda: bool(fake.delivered("chat.update")), WITHIN)
    [update] = fake.delivered("chat.update")
    assert update.args["ts"] == slack_copy_ts and "*Budget* final" in str(update.args["blocks"])
    await relay.slack_posts(fake.edit_as(olive_says, "Thanks, changed my mind"))
    await api.wait_for(lambda: bool(api.edits), WITHIN)
    assert api.edits[0].message_id == tg_copy.message_id
    assert "changed my mind" in api.edits[0].text

    # Olive deletes hers on Slack: its copy on Telegram goes too, and its mapping.
    await relay.slack_posts(fake.delete_as(olive_says))
    await api.wait_for(lambda: bool(api.deleted), WITHIN)
    assert api.deleted == [(GROUP.id, tg_copy.message_id)]
    await relay.drained()
    async with relay.db.read() as session:
        kept = await session.scalars(
            select(RelayCopy.message_id).where(RelayCopy.platform == "telegram")
        )
        assert str(tg_copy.message_id) not in list(kept)

    # Deleting a copy (Slack does not say who did) forgets that copy and deletes nothing else.
    await relay.slack_posts(fake.delete_as({"channel": CHANNEL, "ts": slack_copy_ts}))
    await relay.slack_posts(fake.post_as(OLIVE.id, CHANNEL, "marker"))  # handled after it
    await api.wait_for(lambda: any("marker" in m.text for m in relay.copies_on_telegram()), WITHIN)
    await relay.drained()
    assert api.deleted == [(GROUP.id, tg_copy.message_id)]
    async with relay.db.read() as session:
        kept = await session.scalars(
            select(RelayCopy.message_id).where(RelayCopy.platform == "slack")
        )
        assert slack_copy_ts not in list(kept)


async def test_unapproved_bots_and_copies_are_never_relayed(relay: Relay) -> None:
    api, fake = relay.api, relay.fake
    await relay.tg.say(DANA, "/start")  # an admin the bot can write to
    # Bob is in the group but has no approved membership: not relayed, admins told once.
    await api.push_group_post(BOB, "Hello all", GROUP)
    await api.push_group_post(BOB, "Anyone?", GROUP)
    notice = "A message was not relayed"
    await api.wait_for(lambda: any(notice in m.text for m in api.sent_to(DANA.id)), WITHIN)
    # A Slack bot, and the bridge's own copy arriving back as an event: never relayed.
    bot_post = fake.post_as("UOTHERBOT", CHANNEL, "I am a bot") | {"bot_id": "B0OTHER"}
    await relay.slack_posts(bot_post)
    await api.push_group_post(ALICE, "Real news", GROUP)
    await fake.wait_for(lambda: len(relay.copies_on_slack()) == 1, WITHIN)
    copy_ts = next(ts for (_, ts), m in fake.messages.items() if m.get("username"))
    echo = dict(fake.messages[(CHANNEL, copy_ts)]) | {
        "channel": CHANNEL,
        "channel_type": "channel",
        "event_ts": copy_ts,
    }
    await relay.slack_posts(echo | {"bot_id": BOT_ID})
    # Even if it came without its bot_id, as an approved member's: known as our copy.
    await relay.slack_posts(
        {k: v for k, v in echo.items() if k not in ("bot_id", "subtype")} | {"user": OLIVE.id}
    )
    # A marker after them: once it has crossed, everything before it has been handled.
    await relay.slack_posts(fake.post_as(OLIVE.id, CHANNEL, "marker"))
    await api.wait_for(lambda: len(relay.copies_on_telegram()) == 1, WITHIN)
    assert "marker" in relay.copies_on_telegram()[0].text
    [only] = relay.copies_on_slack()  # Alice's: not Bob's, nor the bot's
    assert "Real news" in str(only["blocks"])
    assert len(relay.copies_on_telegram()) == 1  # the marker, never the echo
    assert sum(notice in m.text for m in api.sent_to(DANA.id)) == 1
    async with relay.db.read() as session:
        relayed = await session.scalars(select(RelayMessage.message_id))
        assert len(list(relayed)) == 2  # Alice's and Olive's marker, nothing else


async def test_forgetme_takes_down_their_copies_and_mappings(relay: Relay) -> None:
    api, fake = relay.api, relay.fake
    await api.push_group_post(ALICE, "Mine to take back", GROUP)
    await fake.wait_for(lambda: len(relay.copies_on_slack()) == 1, WITHIN)
    [asked] = await relay.tg.say(ALICE, "/forgetme")
    await relay.tg.press(ALICE, asked, asked.buttons[0]["text"])
    await fake.wait_for(lambda: bool(fake.delivered("chat.delete")), WITHIN)
    await relay.drained()
    assert [m for m in fake.messages.values() if m.get("username")] == []
    async with relay.db.read() as session:
        assert list(await session.scalars(select(RelayMessage.id))) == []
        assert list(await session.scalars(select(RelayCopy.id))) == []
    assert await tables_holding(relay.db, "Mine to take back") == []


async def test_a_relayed_text_is_kept_only_until_its_copies_are_made(relay: Relay) -> None:
    await relay.api.push_group_post(ALICE, "Kept only in the chats", GROUP)
    await relay.fake.wait_for(lambda: len(relay.copies_on_slack()) == 1, WITHIN)
    await relay.drained()
    # (the update it came in drops its content on its own, once handled)
    assert "pushes" not in await tables_holding(relay.db, "Kept only in the chats")
    async with relay.db.read() as session:  # the push itself stays, for the delivery report
        assert list(await session.scalars(select(Push.kind))).count("relay") == 1


async def test_forgetme_erases_the_text_of_copies_still_waiting_to_be_posted(
    relay: Relay,
) -> None:
    api = relay.api
    await relay.delivery.stop()  # the copy waits in the outbox
    await relay.tg.settle(await api.push("message", api.message(ALICE, "Not posted yet", GROUP)))
    assert "pushes" in await tables_holding(relay.db, "Not posted yet")
    [asked] = await relay.tg.say(ALICE, "/forgetme")
    await relay.tg.press(ALICE, asked, asked.buttons[0]["text"])
    assert await tables_holding(relay.db, "Not posted") == []
    await relay.delivery.start()
    await relay.drained()
    assert relay.copies_on_slack() == []
    assert await tables_holding(relay.db, "Alice Example") == []


@pytest.mark.slow  # 400 relayed messages one at a time per chat, and the 429s waited out
async def test_a_burst_of_200_each_way_with_429s_arrives_complete_and_in_order(
    relay: Relay,
) -> None:
    api, fake = relay.api, relay.fake
    # More 429s than either client waits out on its own: the outbox must wait them out too.
    fake.rate_limit(8, "chat.postMessage", retry_after=1)
    api.rate_limit(8, retry_after=1)
    for n in range(200):
        await api.push_group_post(ALICE, f"tg {n:03d}", GROUP)
        await relay.slack_posts(fake.post_as(OLIVE.id, CHANNEL, f"sl {n:03d}"))
    await fake.wait_for(lambda: len(relay.copies_on_slack()) >= 200, 120)
    await api.wait_for(lambda: len(relay.copies_on_telegram()) >= 200, 120)
    on_slack = [str(c["text"]) for c in relay.copies_on_slack()]
    on_telegram = [m.text for m in relay.copies_on_telegram()]
    assert [t.rsplit(" ", 1)[-1] for t in on_slack] == [f"{n:03d}" for n in range(200)]
    assert [t.rsplit(" ", 1)[-1] for t in on_telegram] == [f"{n:03d}" for n in range(200)]
    assert fake.api_calls("chat.postMessage")[0].status == 429  # the limits were hit


async def test_a_copy_too_old_to_delete_is_blanked_and_kept_until_it_is(relay: Relay) -> None:
    api, fake = relay.api, relay.fake
    olive_says = fake.post_as(OLIVE.id, CHANNEL, "Said two days ago")
    await relay.slack_posts(olive_says)
    await api.wait_for(lambda: len(relay.copies_on_telegram()) == 1, WITHIN)
    [tg_copy] = relay.copies_on_telegram()
    # Telegram refuses to delete a bot's message after 48 hours.
    api.fail("deleteMessage", 400, "Bad Request: message can't be deleted")
    await relay.slack_posts(fake.delete_as(olive_says))
    await api.wait_for(lambda: bool(api.edits), WITHIN)
    await relay.drained()
    assert api.deleted == []
    assert [(e.message_id, e.text) for e in api.edits] == [(tg_copy.message_id, "[removed]")]
    assert "Said two days ago" not in str(api.sent_to(GROUP.id))
    async with relay.db.read() as session:
        assert list(await session.scalars(select(RelayCopy.id))) == []


async def test_a_copy_being_posted_while_its_author_is_erased_is_taken_down(
    relay: Relay, settings: Settings
) -> None:
    api, fake = relay.api, relay.fake
    api.hold(GROUP.id)  # Telegram takes its time over the copy
    await relay.slack_posts(fake.post_as(OLIVE.id, CHANNEL, "In flight"))
    async with asyncio.timeout(WITHIN):
        while True:
            async with relay.db.read() as session:
                status = await session.scalar(select(Delivery.status))
            if status == "sending":
                break
            await asyncio.sleep(0.05)
    async with relay.db.session() as session:
        olive = await session.scalar(
            select(Identity.person_id).where(Identity.external_id == OLIVE.id)
        )
        assert olive is not None
        await forget(session, relaying(settings), olive, datetime.now(UTC))
    api.let_through(GROUP.id)
    await api.wait_for(lambda: bool(api.deleted), WITHIN)
    await relay.drained()
    [tg_copy] = [m for m in api.sent_to(GROUP.id) if "In flight" in m.text]
    assert api.deleted == [(GROUP.id, tg_copy.message_id)]
    async with relay.db.read() as session:
        assert list(await session.scalars(select(RelayCopy.id))) == []
        assert set(await session.scalars(select(Delivery.status))) == {"sent"}


@pytest.mark.parametrize("leaders", [Chats({"telegram": [GROUP.id], "slack": [LEADERS_CHANNEL]})])
async def test_a_chat_of_two_groups_relays_only_to_the_groups_its_author_is_in(
    relay: Relay,
) -> None:
    # Alice is an approved officer, not a leader: the leaders' channel never sees her post.
    await relay.api.push_group_post(ALICE, "For officers only", GROUP)
    await relay.fake.wait_for(lambda: len(relay.copies_on_slack()) == 1, WITHIN)
    await relay.drained()
    assert [c["channel"] for c in relay.copies_on_slack()] == [CHANNEL]


async def test_a_slack_thread_parent_deleted_with_its_replies_is_deleted_from_telegram(
    relay: Relay,
) -> None:
    api, fake = relay.api, relay.fake
    parent = fake.post_as(OLIVE.id, CHANNEL, "Start of a thread")
    await relay.slack_posts(parent)
    await api.wait_for(lambda: len(relay.copies_on_telegram()) == 1, WITHIN)
    [tg_copy] = relay.copies_on_telegram()
    # Deleted while it has replies: Slack changes it into a tombstone posted by Slackbot.
    tombstone = {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": CHANNEL,
        "channel_type": "channel",
        "message": {
            "type": "message",
            "subtype": "tombstone",
            "hidden": True,
            "user": "USLACKBOT",
            "text": "This message was deleted.",
            "ts": parent["ts"],
            "thread_ts": parent["ts"],
            "reply_count": 1,
        },
        "previous_message": {k: v for k, v in parent.items() if k != "channel"},
        "event_ts": "1790000999.000001",
        "ts": "1790000999.000001",
    }
    await relay.slack_posts(tombstone)
    await api.wait_for(lambda: bool(api.deleted), WITHIN)
    assert api.deleted == [(GROUP.id, tg_copy.message_id)]
    # Slackbot's own messages are nobody's to relay, nor to tell admins about.
    await relay.tg.say(DANA, "/start")
    await relay.slack_posts(fake.post_as("USLACKBOT", CHANNEL, "Reminder: tidy up"))
    await relay.slack_posts(fake.post_as(OLIVE.id, CHANNEL, "marker"))
    await api.wait_for(lambda: any("marker" in m.text for m in relay.copies_on_telegram()), WITHIN)
    await relay.drained()
    assert not any("Reminder" in m.text for m in api.sent)
    assert not any("not relayed" in m.text for m in api.sent_to(DANA.id))


async def test_a_chat_without_relay_costs_no_lookup(relay: Relay) -> None:
    api, fake = relay.api, relay.fake
    fake.add_user("UNEW", "newcomer", "New Example")
    fake.add_channel("C0ELSEWHERE", "UNEW")
    elsewhere = TgChat(-100999888, "supergroup", "Elsewhere")
    api.add_group(elsewhere)
    await relay.tg.say(DANA, "/start")
    await relay.slack_posts(fake.post_as("UNEW", "C0ELSEWHERE", "Not bound <@UOTHER>"))
    await relay.tg.settle(await api.push("message", api.message(BOB, "Not bound", elsewhere)))
    await relay.slack_posts(fake.post_as(OLIVE.id, CHANNEL, "marker"))
    await api.wait_for(lambda: bool(relay.copies_on_telegram()), WITHIN)
    await relay.drained()
    # Neither its author nor whom it mentions was looked up; only the marker's author was.
    assert [c.args["user"] for c in fake.api_calls("users.info")] == [OLIVE.id]
    assert not any("not relayed" in m.text for m in api.sent_to(DANA.id))
