"""App Home, admin modals, channels as groups, the outbox's Slack side and long answers.

The real Bolt app over HTTP with requests signed like Slack's, the real bridge on SQLite and
the fake Web API (fixtures in conftest.py), which refuses any message or view Slack would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select

from ccin_bridge.bots.slack.adapter import SlackAdapter
from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Chats, Settings
from ccin_bridge.handlers.core import Bridge, Command, Context
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.replies import Reply, ReplyBuilder
from ccin_bridge.scheduler.outbound import Blocked, ChatAdmin, RetryLater, Undeliverable
from ccin_bridge.store import groups, people
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Conversation, Push
from tests.bots.slack.sender import (
    ALICE,
    BOB,
    SIGNING_SECRET,
    SlackSender,
    buttons,
    find_button,
    view_buttons,
    view_text,
)
from tests.conftest import Clock
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack

OFFICERS_CHANNEL = "C0OFFICERS"
DM_TO_ALICE = ChatRef("slack", ALICE.id, is_private=True)


@asynccontextmanager
async def serving(bridge: Bridge, fake: FakeSlack) -> AsyncIterator[SlackSender]:
    """An adapter for a bridge built by the test (other commands or settings)."""
    adapter = SlackAdapter(
        bridge,
        bot_token=fake.token,
        signing_secret=SIGNING_SECRET,
        api_url=fake.api_url,
        host="127.0.0.1",
        port=0,
    )
    await adapter.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield SlackSender(session, adapter, fake)
    finally:
        await adapter.stop()


def note(text: str) -> Reply:
    return ReplyBuilder().para(text).build()


# --- send(): the outbox's Slack side -----------------------------------------------------------


async def test_send_to_a_person_opens_their_dm(adapter: SlackAdapter, fake: FakeSlack) -> None:
    await adapter.send(chat=DM_TO_ALICE, reply=note("Your reminder"))
    (posted,) = fake.delivered("chat.postMessage")
    assert posted.args["channel"] == "DALICE" and "Your reminder" in posted.text


@pytest.mark.parametrize(
    ("error", "private", "verdict"),
    [
        ("account_inactive", True, Blocked),
        ("user_not_found", True, Blocked),
        ("account_inactive", False, Undeliverable),  # a channel is not a person
        ("cannot_dm_bot", True, Undeliverable),
        ("channel_not_found", False, Undeliverable),
        ("not_in_channel", False, Undeliverable),
        ("is_archived", False, Undeliverable),
    ],
)
async def test_send_turns_slack_refusals_into_outbox_verdicts(
    adapter: SlackAdapter, fake: FakeSlack, error: str, private: bool, verdict: type[Exception]
) -> None:
    fake.fail("chat.postMessage", error)
    chat = DM_TO_ALICE if private else ChatRef("slack", "C0NEWS", is_private=False)
    with pytest.raises(verdict, match=error):
        await adapter.send(chat=chat, reply=note("News"))


async def test_send_refusals_the_fake_gives_by_itself(
    adapter: SlackAdapter, fake: FakeSlack
) -> None:
    fake.add_channel("C0ARCHIVED")
    fake.archived.add("C0ARCHIVED")
    fake.channels["C0LEFT"] = []  # the bot was removed
    for channel, error in (("C0ARCHIVED", "is_archived"), ("C0LEFT", "not_in_channel")):
        with pytest.raises(Undeliverable, match=error):
            await adapter.send(chat=ChatRef("slack", channel, False), reply=note("News"))
    fake.fail("conversations.open", "user_not_found")
    with pytest.raises(Blocked, match="user_not_found"):
        await adapter.send(chat=DM_TO_ALICE, reply=note("News"))


async def test_other_slack_errors_stay_transient(adapter: SlackAdapter, fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", "internal_error")
    with pytest.raises(SlackApiError):
        await adapter.send(chat=DM_TO_ALICE, reply=note("News"))


@pytest.mark.slow  # waits out real timeouts and retries
async def test_a_rate_limit_outlasting_the_retries_asks_the_outbox_to_wait(
    adapter: SlackAdapter, fake: FakeSlack
) -> None:
    # slack-sdk retries five times (waiting Retry-After: 0 each); the sixth 429 says 30 s.
    fake.rate_limit(6, "chat.postMessage", retry_after=[0, 0, 0, 0, 0, 30])
    with pytest.raises(RetryLater) as waited:
        await adapter.send(chat=ChatRef("slack", "C0NEWS", False), reply=note("News"))
    assert waited.value.seconds == 30
    assert [c.status for c in fake.api_calls("chat.postMessage")] == [429] * 6


@pytest.mark.slow  # waits out real timeouts and retries
async def test_connection_errors_stay_transient(bridge: Bridge) -> None:
    adapter = SlackAdapter(
        bridge, bot_token="xoxb-x", signing_secret="s", api_url="http://127.0.0.1:9/api/"
    )
    with pytest.raises(aiohttp.ClientConnectionError):
        await adapter.send(chat=ChatRef("slack", "C0NEWS", False), reply=note("News"))


# --- ChatAdmin: channels bound to groups -------------------------------------------------------


async def test_channels_invite_kick_and_list_members(
    adapter: SlackAdapter, fake: FakeSlack
) -> None:
    assert isinstance(adapter, ChatAdmin)
    fake.add_channel(OFFICERS_CHANNEL, BOB.id)
    assert await adapter.admit(chat_id=OFFICERS_CHANNEL, user_id=ALICE.id, label="x") is None
    assert fake.channels[OFFICERS_CHANNEL] == [BOT_USER_ID, BOB.id, ALICE.id]
    # Inviting someone already there is success (Slack says already_in_channel).
    assert await adapter.admit(chat_id=OFFICERS_CHANNEL, user_id=ALICE.id, label="x") is None
    assert fake.api_calls("conversations.invite")[-1].error == "already_in_channel"
    # Three members, two per page: the cursor is followed; the bot itself is not a member.
    assert await adapter.members(chat_id=OFFICERS_CHANNEL) == {ALICE.id, BOB.id}
    assert len(fake.api_calls("conversations.members")) == 2
    assert await adapter.is_member(chat_id=OFFICERS_CHANNEL, user_id=ALICE.id) is True
    await adapter.remove(chat_id=OFFICERS_CHANNEL, user_id=ALICE.id)
    assert fake.channels[OFFICERS_CHANNEL] == [BOT_USER_ID, BOB.id]
    assert await adapter.is_member(chat_id=OFFICERS_CHANNEL, user_id=ALICE.id) is False
    await adapter.remove(chat_id=OFFICERS_CHANNEL, user_id=ALICE.id)  # not there: success
    assert fake.api_calls("conversations.kick")[-1].error == "not_in_channel"
    with pytest.raises(Undeliverable, match="channel_not_found"):
        await adapter.admit(chat_id="C0GONE", user_id=ALICE.id, label="x")
    with pytest.raises(Blocked, match="user_not_found"):
        await adapter.admit(chat_id=OFFICERS_CHANNEL, user_id="UNOBODY", label="x")
    fake.archived.add(OFFICERS_CHANNEL)
    with pytest.raises(Undeliverable, match="is_archived"):
        await adapter.remove(chat_id=OFFICERS_CHANNEL, user_id=BOB.id)


def with_officers_channel(settings: Settings) -> Settings:
    groups = [
        g.model_copy(update={"chats": Chats({"slack": [OFFICERS_CHANNEL]})})
        if g.slug == "officers"
        else g
        for g in settings.groups
    ]
    return settings.model_copy(update={"groups": groups, "admins": [f"slack:{BOB.id}"]})


async def pushes(db: Database) -> list[Push]:
    async with db.session() as session:
        return list(await session.scalars(select(Push).order_by(Push.id)))


async def test_an_unapproved_member_joining_a_bound_channel_is_flagged_to_admins(
    settings: Settings, sqlite_db: Database, clock: Clock, fake: FakeSlack
) -> None:
    bridge = Bridge(with_officers_channel(settings), sqlite_db, all_commands(), clock=clock)
    await bridge.start()
    async with serving(bridge, fake) as slack:
        await slack.ask("start", user=BOB)  # an admin the bridge has met can be told
        joined = {"type": "member_joined_channel", "user": ALICE.id, "channel": OFFICERS_CHANNEL}
        elsewhere = joined | {"channel": "C0RANDOM"}
        bot_added = joined | {"user": BOT_USER_ID, "inviter": BOB.id}
        for event in (elsewhere, bot_added, joined):
            assert (await slack.event(event)).status == 200
        await slack.adapter.drain()
    (flagged,) = await pushes(sqlite_db)
    assert flagged.title == "Unapproved chat member"
    flag = reply_codec.decode(flagged.payload).plain_text
    assert "Alice Example (@alice)" in flag and "Officer Network" in flag


# --- more than five answers to one slash command ----------------------------------------------


async def test_answers_beyond_five_posts_continue_in_the_dm(
    settings: Settings, sqlite_db: Database, clock: Clock, fake: FakeSlack
) -> None:
    async def many(ctx: Context) -> list[Reply]:
        return [note(f"Part {n} of {ctx.args}") for n in range(1, int(ctx.args) + 1)]

    commands = [*all_commands(), Command("many", "Many messages", many)]
    bridge = Bridge(settings, sqlite_db, commands, clock=clock)
    async with serving(bridge, fake) as slack:
        key = await slack.command("many 5")
        await fake.wait_for(lambda: len(fake.responses(key)) == 5)
        await slack.adapter.drain()
        assert [c.args["text"] for c in fake.responses(key)] == [
            f"Part {n} of 5" for n in range(1, 6)
        ]
        assert fake.api_calls("chat.postMessage") == []

        key = await slack.command("many 8")
        await fake.wait_for(lambda: len(fake.delivered("chat.postMessage")) == 4)
        await slack.adapter.drain()
        here = [c.args["text"] for c in fake.responses(key)]
        assert here == [
            *(f"Part {n} of 8" for n in range(1, 5)),
            "The rest of this answer is in our direct messages.",
        ]
        dm = fake.delivered("chat.postMessage")
        assert [c.args["text"] for c in dm] == [f"Part {n} of 8" for n in range(5, 9)]
        assert {c.args["channel"] for c in dm} == {"DALICE"}
        assert [c.name for c in fake.calls if c.error == "used_url"] == []


# --- App Home -----------------------------------------------------------------------------------


def home_opened(user: str, tab: str = "home") -> dict[str, object]:
    return {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": tab}


async def test_app_home_shows_groups_subscriptions_events_and_search(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack
) -> None:
    assert (await slack.event(home_opened(ALICE.id, tab="messages"))).status == 200
    await adapter.drain()
    assert fake.api_calls("views.publish") == []  # the Messages tab is not ours to draw

    await slack.event(home_opened(ALICE.id))
    await fake.wait_for(lambda: bool(fake.delivered("views.publish")))
    await adapter.drain()
    (call,) = fake.delivered("views.publish")
    assert call.args["user_id"] == ALICE.id
    home = fake.homes[ALICE.id]
    text = view_text(home)
    for part in ("Groups you can join", "Your subscriptions", "Upcoming events", "Search"):
        assert part in text
    assert "Officer Network monthly meeting" in text
    assert "For admins" not in text
    labels = [b["text"]["text"] for b in view_buttons(home)]
    assert {"Join Officer Network", "Subscribe: Event reminders", "Search"} <= set(labels)
    assert len({b["action_id"] for b in view_buttons(home)}) == len(labels)


async def test_a_home_button_answers_in_the_dm_and_redraws_the_home(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack
) -> None:
    await slack.event(home_opened(ALICE.id))
    await fake.wait_for(lambda: bool(fake.delivered("views.publish")))
    home = fake.homes[ALICE.id] | {"id": "VHOME"}
    assert (await slack.press_in_view(home, "Join Housing")).status == 200
    await fake.wait_for(lambda: len(fake.delivered("views.publish")) == 2)
    await adapter.drain()
    (answer,) = fake.delivered("chat.postMessage")
    assert answer.args["channel"] == "DALICE"
    assert "Housing: rules of engagement" in answer.text


async def test_a_home_button_that_fails_is_explained_in_the_dm(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    await slack.event(home_opened(ALICE.id))
    await fake.wait_for(lambda: bool(fake.delivered("views.publish")))
    home = fake.homes[ALICE.id] | {"id": "VHOME"}
    fake.fail("views.publish", "internal_error")  # the redraw after the button fails
    assert (await slack.press_in_view(home, "Search")).status == 200
    await fake.wait_for(lambda: len(fake.delivered("chat.postMessage")) >= 2)
    await adapter.drain()
    texts = [c.text for c in fake.delivered("chat.postMessage")]
    assert any("Sorry" in t or "went wrong" in t for t in texts), texts
    assert {c.args["channel"] for c in fake.delivered("chat.postMessage")} == {"DALICE"}
    assert "internal_error" not in " ".join(texts)


async def test_admins_see_waiting_requests_on_their_home(
    bridge: Bridge, slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack
) -> None:
    bridge.grant_session_admin(UserRef("slack", BOB.id))
    await slack.event(home_opened(BOB.id))
    await fake.wait_for(lambda: BOB.id in fake.homes)
    await adapter.drain()
    assert "No join requests are waiting" in view_text(fake.homes[BOB.id])


# --- Socket Mode --------------------------------------------------------------------------------


async def test_socket_mode_answers_envelopes_and_acknowledges_them(
    bridge: Bridge, fake: FakeSlack
) -> None:
    from tests.fakes.slack_api import APP_TOKEN

    adapter = SlackAdapter(
        bridge, bot_token=fake.token, signing_secret=None, api_url=fake.api_url, app_token=APP_TOKEN
    )
    await adapter.start()
    try:
        (opened,) = fake.delivered("apps.connections.open")
        assert opened.ok
        command = {
            "token": "t",
            "team_id": "T0CCIN",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": ALICE.id,
            "user_name": ALICE.handle,
            "command": "/ccin",
            "text": "search food",
            "api_app_id": "A0CCIN",
            "response_url": fake.response_url("socket1"),
            "trigger_id": "t1",
        }
        envelope = await fake.socket_send("slash_commands", command, accepts_response_payload=True)
        assert (await fake.socket_ack(envelope))["envelope_id"] == envelope
        await fake.wait_for(lambda: bool(fake.responses("socket1")))
        assert "Cooperative Approaches to Sustainable Food" in fake.responses("socket1")[0].text

        event = {
            "token": "t",
            "team_id": "T0CCIN",
            "api_app_id": "A0CCIN",
            "type": "event_callback",
            "event_id": "Ev0SOCKET1",
            "event_time": 1,
            "event": home_opened(ALICE.id),
            "authorizations": [{"team_id": "T0CCIN", "user_id": BOT_USER_ID, "is_bot": True}],
        }
        envelope = await fake.socket_send("events_api", event)
        await fake.socket_ack(envelope)
        await fake.wait_for(lambda: ALICE.id in fake.homes)

        press = {
            "type": "block_actions",
            "user": {"id": ALICE.id, "username": ALICE.handle, "team_id": "T0CCIN"},
            "api_app_id": "A0CCIN",
            "team": {"id": "T0CCIN"},
            "container": {"type": "view", "view_id": "VHOME"},
            "trigger_id": "t2",
            "view": {"id": "VHOME", "type": "home", "blocks": []},
            "actions": [
                next(
                    b | {"block_id": "b1", "action_ts": "1"}
                    for b in view_buttons(fake.homes[ALICE.id])
                    if b["text"]["text"] == "Join Housing"
                )
            ],
        }
        envelope = await fake.socket_send("interactive", press)
        await fake.socket_ack(envelope)
        await fake.wait_for(lambda: bool(fake.delivered("chat.postMessage")))
        await adapter.drain()
        assert "Housing: rules of engagement" in fake.delivered("chat.postMessage")[0].text
    finally:
        await adapter.stop()
    await asyncio.sleep(0)


# --- admin modals -------------------------------------------------------------------------------


def picked(audience: str, name: str, message: str) -> dict[str, object]:
    """A broadcast form's state as Slack sends it on submission."""
    return {
        "audience": {
            "audience": {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": name},
                    "value": audience,
                },
            }
        },
        "text": {"text": {"type": "plain_text_input", "value": message}},
    }


def opened(fake: FakeSlack) -> dict[str, object]:
    """The modal open last, with its id, as a submission would carry it."""
    view_id = list(fake.views)[-1]
    return fake.views[view_id] | {"id": view_id}


async def test_the_broadcast_modal_previews_then_queues_for_an_admin(
    bridge: Bridge, slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, sqlite_db: Database
) -> None:
    bridge.grant_session_admin(UserRef("slack", BOB.id))
    key = await slack.command("broadcast", user=BOB)
    await fake.wait_for(lambda: bool(fake.delivered("views.open")))
    form = opened(fake)
    assert form["callback_id"] == "ccin_broadcast"
    options = form["blocks"][0]["element"]["options"]  # type: ignore[index]
    assert [o["value"] for o in options][-1] == "everyone"
    assert "officers" in [o["value"] for o in options]

    message = "Hello officers & friends,\n\nsee you on Tuesday <3"
    answer = await slack.submit(form, picked("officers", "Officers", message), user=BOB)
    assert answer.status == 200 and '"response_action":"update"' in answer.body.replace(" ", "")
    await fake.wait_for(lambda: bool(fake.delivered("views.update")))
    await adapter.drain()
    preview = opened(fake)
    assert "Preview: broadcast to Officers" in view_text(preview)
    assert "see you on Tuesday &lt;3" in view_text(preview)
    assert preview["submit"] == {"type": "plain_text", "text": "Confirm"}
    assert await pushes(sqlite_db) == []  # nothing is sent by a preview

    assert (await slack.submit(preview, user=BOB)).status == 200
    await fake.wait_for(lambda: bool(fake.delivered("chat.postMessage")))
    await adapter.drain()
    (result,) = fake.delivered("chat.postMessage")
    assert (
        result.args["channel"] == "DBOB"
        and "Broadcast #1 is recorded, but nobody is subscribed" in result.text
    )
    (push,) = await pushes(sqlite_db)
    assert push.kind == "broadcast" and push.audience == "officers"
    # Two paragraphs, as typed in the form.
    assert "see you on Tuesday <3" in str(push.payload)
    assert "friends, see you" not in str(push.payload)
    assert fake.responses(key) == []  # the form replaced the answer along the response_url


async def test_the_broadcast_shortcut_shows_a_non_admin_the_refusal_not_the_form(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, sqlite_db: Database
) -> None:
    assert (await slack.shortcut("ccin_broadcast")).status == 200
    await fake.wait_for(lambda: bool(fake.delivered("views.open")))
    await adapter.drain()
    refused = opened(fake)
    assert "for network admins only" in view_text(refused)
    assert "submit" not in refused
    assert await pushes(sqlite_db) == []


async def pending_request(db: Database, user_id: str, name: str, slug: str) -> int:
    async with db.session() as session:
        person, _ = await people.touch(
            session, platform="slack", external_id=user_id, display_name=name, username=None
        )
        await groups.set_membership(session, person_id=person.id, slug=slug, status=groups.PENDING)
        (row,) = [r for r in await groups.pending_requests(session) if r.person_id == person.id]
        return row.request_id


async def test_the_join_requests_modal_approves_and_declines_with_a_reason(
    bridge: Bridge, slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, sqlite_db: Database
) -> None:
    first = await pending_request(sqlite_db, ALICE.id, "Alice Example", "officers")
    second = await pending_request(sqlite_db, "UCAROL", "Carol Sample", "leaders")
    bridge.grant_session_admin(UserRef("slack", BOB.id))
    (listing,) = await slack.ask("pending", user=BOB)
    assert "Review in a form" in labels(listing)
    review = find_button(listing, "Review in a form")
    press = {
        "type": "block_actions",
        "user": {"id": BOB.id, "username": BOB.handle},
        "container": {"type": "message", "channel_id": "C0GENERAL", "is_ephemeral": True},
        "channel": {"id": "C0GENERAL", "name": "general"},
        "actions": [review | {"block_id": "b1", "action_ts": "1"}],
    }
    assert (await slack.interactive(press)).status == 200
    await fake.wait_for(lambda: bool(fake.delivered("views.update")))
    await adapter.drain()
    form = opened(fake)
    assert "Join requests waiting (2)" in view_text(form)
    assert {f"Approve #{first}", f"Decline #{first}"} <= {
        b["text"]["text"] for b in view_buttons(form)
    }
    reason_block = str(form["blocks"][-1]["block_id"])  # type: ignore[index]
    assert reason_block.startswith("reason-")

    reason = {
        reason_block: {"reason": {"type": "plain_text_input", "value": "Use your council account"}}
    }
    await slack.press_in_view(form, f"Decline #{first}", user=BOB, values=reason)
    await fake.wait_for(lambda: len(fake.delivered("views.update")) == 2)
    await adapter.drain()
    form = opened(fake)
    assert f"Declined #{first}." in view_text(form)
    assert "Join requests waiting (1)" in view_text(form)
    # A fresh reason box: Slack would otherwise carry the last reason over to the next one.
    assert form["blocks"][-1]["block_id"] not in (reason_block, "reason")  # type: ignore[index]

    await slack.press_in_view(form, f"Approve #{second}", user=BOB)
    await fake.wait_for(lambda: len(fake.delivered("views.update")) == 3)
    await adapter.drain()
    form = opened(fake)
    assert f"Approved #{second}" in view_text(form)
    assert "No join requests are waiting." in view_text(form)
    assert "submit" not in form
    assert (await slack.submit(form, user=BOB)).status == 200  # Done just closes

    async with sqlite_db.session() as session:
        declined = await groups.request(session, first)
        approved = await groups.request(session, second)
    assert declined is not None and declined.status == groups.DECLINED
    assert declined.reason == "Use your council account"
    assert approved is not None and approved.status == groups.ACTIVE


def labels(message: object) -> list[str]:
    return [b["text"]["text"] for b in buttons(message)]  # type: ignore[arg-type]


async def test_cancel_on_the_broadcast_preview_ends_the_broadcast(
    bridge: Bridge, slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, sqlite_db: Database
) -> None:
    bridge.grant_session_admin(UserRef("slack", BOB.id))
    await slack.command("broadcast", user=BOB)
    await fake.wait_for(lambda: bool(fake.delivered("views.open")))
    form = opened(fake)
    await slack.submit(form, picked("officers", "Officers", "Called off"), user=BOB)
    await fake.wait_for(lambda: bool(fake.delivered("views.update")))
    await adapter.drain()
    preview = opened(fake)
    assert preview["notify_on_close"] is True
    async with sqlite_db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 1

    assert (await slack.close(preview, user=BOB)).status == 200
    await fake.wait_for(lambda: bool(fake.delivered("chat.postMessage")))
    await adapter.drain()
    (told,) = fake.delivered("chat.postMessage")
    assert told.args["channel"] == "DBOB" and "Cancelled" in told.text
    async with sqlite_db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 0
    assert await pushes(sqlite_db) == []
