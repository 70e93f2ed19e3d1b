"""The whole group flow on Telegram, end to end through the real adapter.

The real PTB Application long-polls the fake Bot API; the outbox's delivery lanes and the
chat-action worker run beside it with the bot as their Outbound and ChatAdmin, as
bridge/background.py wires them. People only type and press buttons; everything asserted is
what the fake Bot API recorded: the messages, the invite links and the admin calls. The last
test adds the real Slack adapter against the fake Slack for one person on both platforms.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from ccin_bridge.bots.slack.adapter import SlackAdapter
from ccin_bridge.bots.telegram.adapter import TelegramBot
from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Chats, Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.scheduler.chat_actions import ChatActionPolicy, ChatActionService
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.scheduler.outbound import ChatAdmin, Outbound
from ccin_bridge.store.db import Database
from tests.bots.slack.sender import SIGNING_SECRET, Person, SlackSender
from tests.bots.telegram.conftest import ALICE, BOB, CAROL, DANA, GROUP, Harness
from tests.conftest import Clock
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, SentMessage, TgUser

# A safety net for each wait on the background workers, never the thing a test checks.
WITHIN = 10.0
APPROVAL = "Join request #"


def labels(message: SentMessage) -> list[str]:
    return [b["text"] for b in message.buttons]


async def arrives(api: FakeTelegramAPI, chat_id: int, needle: str) -> SentMessage:
    """The latest message sent to `chat_id` containing `needle`, once the workers send one."""

    def found() -> list[SentMessage]:
        return [m for m in api.sent_to(chat_id) if needle in m.text]

    await api.wait_for(lambda: bool(found()), WITHIN)
    return found()[-1]


@pytest.fixture
async def flow(telegram: Harness) -> AsyncIterator[Harness]:
    """The Telegram harness with the outbox lanes and the chat-action worker running."""
    bot = telegram.bot
    telegram.api.add_group(GROUP)  # the officers' group; the bot is an admin of it
    platforms = {bot.platform: bot}
    delivery = DeliveryService(bot.bridge.db, platforms, DeliveryPolicy(lanes=2, poll_seconds=0.05))
    chat_actions = ChatActionService(
        bot.bridge.db,
        platforms,
        ChatActionPolicy(poll_seconds=0.05),
        settings=bot.bridge.settings,
    )
    await delivery.start()
    await chat_actions.start()
    try:
        yield telegram
    finally:
        await chat_actions.stop()
        await delivery.stop()


async def ask_to_join(h: Harness, user: TgUser) -> None:
    """`user` walks the join steps for the officers: rules, organisation, role."""
    [rules] = await h.say(user, "/join officers")
    assert "Officer Network: rules of engagement (version 1)" in rules.text
    assert "This space is for officers of member councils only" in rules.text
    assert labels(rules) == ["I accept", "Cancel"]
    [ask_org] = await h.press(user, rules, "I accept")
    assert "Which organisation are you from?" in ask_org.text
    [orgs] = await h.say(user, "Manchester")  # plain text answers the step
    assert "Which one is yours?" in orgs.text
    assert labels(orgs)[:2] == [
        "Greater Manchester Combined Authority (GMCA)",
        "Manchester City Council",
    ]
    [ask_role] = await h.press(user, orgs, "Manchester City Council")
    assert "And your role?" in ask_role.text
    [waiting] = await h.press(user, ask_role, "Officers")
    assert "is waiting for a network admin to approve it" in waiting.text
    assert "/leave" in waiting.text


async def test_join_approve_invite_let_in_then_leave(flow: Harness) -> None:
    api = flow.api
    await flow.say(DANA, "/start")  # an admin by config, whom the bot can now write to
    await ask_to_join(flow, ALICE)

    card = await arrives(api, DANA.id, APPROVAL)
    assert "Officer Network" in card.text and "Alice Example" in card.text
    assert "Manchester City Council (Full)" in card.text
    assert labels(card) == ["Approve", "Decline"]
    assert api.invite_links == []  # nothing before an admin says yes

    [done] = await flow.press(DANA, card, "Approve")
    assert "1 chat invitation queued" in done.text

    welcome = await arrives(api, ALICE.id, "has been approved")
    assert "Welcome to Officer Network" in welcome.text
    assert "remove yourself at any time with /leave officers." in welcome.text
    invite = await arrives(api, ALICE.id, "Here is your personal link")
    [link] = api.invite_links
    assert link.chat_id == GROUP.id and link.raw["creates_join_request"] is True
    assert link.url in invite.text and f'href="{link.url}"' in invite.html
    assert api.status_of(GROUP.id, ALICE.id) == "left"  # a link, not a seat: not in yet

    # She follows the link; Telegram asks the bot, which lets her in.
    await flow.settle(await api.push_join_request(ALICE, GROUP, link))
    [approved] = api.calls_to("approveChatJoinRequest")
    assert approved.params == {"chat_id": GROUP.id, "user_id": ALICE.id}
    assert api.status_of(GROUP.id, ALICE.id) == "member"

    [left] = await flow.say(ALICE, "/leave officers")
    assert "You have left Officer Network" in left.text
    assert "taking you out of the group's chats" in left.text
    await api.wait_for(lambda: bool(api.calls_to("unbanChatMember")), WITHIN)
    [ban] = api.calls_to("banChatMember")
    [unban] = api.calls_to("unbanChatMember")
    assert ban.params == {"chat_id": GROUP.id, "user_id": ALICE.id}
    assert unban.params == {"chat_id": GROUP.id, "user_id": ALICE.id, "only_if_banned": True}
    assert api.status_of(GROUP.id, ALICE.id) == "left"

    # The old link is no way back in: her new request is declined, with a word why.
    await flow.settle(await api.push_join_request(ALICE, GROUP, link))
    assert [c.params["user_id"] for c in api.calls_to("declineChatJoinRequest")] == [ALICE.id]
    assert api.status_of(GROUP.id, ALICE.id) == "left"
    assert "open to approved members only" in api.sent_to(ALICE.id)[-1].text
    assert len(api.invite_links) == 1


async def test_nobody_unapproved_gets_in_and_a_decline_reason_reaches_the_person(
    flow: Harness,
) -> None:
    api = flow.api
    await flow.say(DANA, "/start")
    await ask_to_join(flow, BOB)
    card = await arrives(api, DANA.id, APPROVAL)

    # Bob found the group before anyone approved him: declined, and told why.
    await flow.settle(await api.push_join_request(BOB, GROUP))
    assert "open to approved members only" in api.sent_to(BOB.id)[-1].text
    # Carol never used the bot at all: declined too (the request opens a DM window).
    await flow.settle(await api.push_join_request(CAROL, GROUP))
    [to_carol] = api.sent_to(CAROL.id)
    assert "/join officers" in to_carol.text
    declined = [c.params["user_id"] for c in api.calls_to("declineChatJoinRequest")]
    assert declined == [BOB.id, CAROL.id]

    # Someone added by hand is not let in by the bot, but the admins hear of it.
    await flow.settle(await api.push_chat_member(GROUP, CAROL, "member", by=BOB))
    flagged = await arrives(api, DANA.id, "Someone joined without approval")
    assert "Carol <Council> & Co" in flagged.text and "Officer Network" in flagged.text

    # The admin declines with a reason, typed as the answer to the bot's question.
    [why] = await flow.press(DANA, card, "Decline")
    assert "Why are you declining" in why.text
    assert labels(why) == ["Decline without a reason", "Cancel"]
    [done] = await flow.say(DANA, "The Officer Network is for council officers only.")
    assert "Declined #" in done.text
    notice = await arrives(api, BOB.id, "was not approved")
    assert "The admins said: The Officer Network is for council officers only." in notice.text
    assert "<i>The Officer Network is for council officers only.</i>" in notice.html

    # Declined people stay out, and no invitation was ever made for anyone.
    await flow.settle(await api.push_join_request(BOB, GROUP))
    assert [c.params["user_id"] for c in api.calls_to("declineChatJoinRequest")][-1] == BOB.id
    assert api.invite_links == []
    assert api.calls_to("createChatInviteLink") == []
    assert api.calls_to("approveChatJoinRequest") == []
    assert api.status_of(GROUP.id, BOB.id) == "left"


# --- one person on Telegram and Slack ----------------------------------------------------------

OFFICERS_CHANNEL = "C0OFFICERS"
ALICE_ON_SLACK = Person("UALICE", "alice")


def on_both(settings: Settings) -> Settings:
    """The officers have a Telegram group and a Slack channel; Dana is an admin."""
    chats = Chats({"telegram": [GROUP.id], "slack": [OFFICERS_CHANNEL]})
    groups = [
        g.model_copy(update={"chats": chats}) if g.slug == "officers" else g
        for g in settings.groups
    ]
    return settings.model_copy(update={"groups": groups, "admins": [f"telegram:{DANA.id}"]})


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    fake.add_user(ALICE_ON_SLACK.id, ALICE_ON_SLACK.handle, "Alice Example")
    fake.add_channel(OFFICERS_CHANNEL)
    yield fake
    await fake.stop()
    assert [(c.name, c.error, c.answer) for c in fake.bad_messages()] == []


async def test_one_person_on_two_platforms_leaves_every_bound_chat(
    settings: Settings,
    sqlite_db: Database,
    clock: Clock,
    fake_api: FakeTelegramAPI,
    fake_slack: FakeSlack,
) -> None:
    bridge = Bridge(on_both(settings), sqlite_db, all_commands(), clock=clock)
    await bridge.start()
    fake_api.add_group(GROUP)
    bot = TelegramBot(
        bridge, token=TOKEN, base_url=fake_api.base_url, poll_timeout=2, read_timeout=5
    )
    adapter = SlackAdapter(
        bridge,
        bot_token=fake_slack.token,
        signing_secret=SIGNING_SECRET,
        api_url=fake_slack.api_url,
        host="127.0.0.1",
        port=0,
    )
    outbound: dict[str, Outbound] = {"telegram": bot, "slack": adapter}
    admins: dict[str, ChatAdmin] = {"telegram": bot, "slack": adapter}
    delivery = DeliveryService(sqlite_db, outbound, DeliveryPolicy(lanes=2, poll_seconds=0.05))
    chat_actions = ChatActionService(
        sqlite_db, admins, ChatActionPolicy(poll_seconds=0.05), settings=bridge.settings
    )
    await bot.start()
    await adapter.start()
    await delivery.start()
    await chat_actions.start()
    try:
        async with aiohttp.ClientSession() as session:
            await both_platforms(Harness(fake_api, bot), SlackSender(session, adapter, fake_slack))
    finally:
        await chat_actions.stop()
        await delivery.stop()
        await adapter.stop()
        await bot.stop()


async def both_platforms(tg: Harness, slack: SlackSender) -> None:
    api, fake = tg.api, slack.fake
    await tg.say(DANA, "/start")
    await ask_to_join(tg, ALICE)
    card = await arrives(api, DANA.id, APPROVAL)
    await tg.press(DANA, card, "Approve")
    await arrives(api, ALICE.id, "Here is your personal link")
    [link] = api.invite_links
    await tg.settle(await api.push_join_request(ALICE, GROUP, link))
    assert api.status_of(GROUP.id, ALICE.id) == "member"
    assert fake.api_calls("conversations.invite") == []  # no Slack account yet

    # She links her Slack account: the membership applies there too, so she is added.
    [code] = await tg.say(ALICE, "/link")
    found = re.search(r"one-time code is (\S+)\.", code.text)
    assert found is not None
    [asked] = await slack.ask(f"link {found.group(1)}", user=ALICE_ON_SLACK)
    assert "belongs to *Alice Example*" in asked.text and "Telegram @alice" in asked.text
    [linked] = await slack.press(asked, "Yes, link them", user=ALICE_ON_SLACK)
    assert (
        "Linked." in linked.text
        and "invitations to your groups' chats you are not in" in linked.text
    )
    # Her Telegram account, which gave the code, is told which account joined it.
    await arrives(api, ALICE.id, "is now linked to your account")
    await fake.wait_for(lambda: bool(fake.delivered("conversations.invite")), WITHIN)
    [invited] = fake.delivered("conversations.invite")
    assert invited.args == {"channel": OFFICERS_CHANNEL, "users": ALICE_ON_SLACK.id}
    assert fake.channels[OFFICERS_CHANNEL] == [BOT_USER_ID, ALICE_ON_SLACK.id]

    # Leaving on Slack takes her out of the Slack channel and the Telegram group alike.
    [left] = await slack.ask("leave officers", user=ALICE_ON_SLACK)
    assert "on every platform you use" in left.text
    await fake.wait_for(lambda: bool(fake.delivered("conversations.kick")), WITHIN)
    await api.wait_for(lambda: bool(api.calls_to("unbanChatMember")), WITHIN)
    [kicked] = fake.delivered("conversations.kick")
    assert kicked.args == {"channel": OFFICERS_CHANNEL, "user": ALICE_ON_SLACK.id}
    assert fake.channels[OFFICERS_CHANNEL] == [BOT_USER_ID]
    [ban] = api.calls_to("banChatMember")
    assert ban.params == {"chat_id": GROUP.id, "user_id": ALICE.id}
    assert api.status_of(GROUP.id, ALICE.id) == "left"
