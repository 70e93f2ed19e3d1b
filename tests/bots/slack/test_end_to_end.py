"""Slash commands, buttons and events end to end (fixtures in conftest.py), signed like Slack.

Every message the adapter sends is checked by the fake as Slack would check it, and each test
ends by asserting none was refused.
"""

from __future__ import annotations

import json
import logging
import time

import pytest
from sqlalchemy import func, select

from ccin_bridge.bots.slack.adapter import SlackAdapter
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import ReplyBuilder, bold
from ccin_bridge.store import groups, people
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Base
from tests.bots.slack.sender import (
    ALICE,
    ALICE_DM,
    SlackSender,
    buttons,
    direct_message,
    mention,
    sign,
)
from tests.fakes.slack_api import Call, FakeSlack


def labels(message: Call) -> list[str]:
    return [b["text"]["text"] for b in buttons(message)]


async def row_counts(db: Database) -> dict[str, int]:
    async with db.session() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


# --- slash commands ---------------------------------------------------------------------------


async def test_bare_command_and_help_show_the_commands(slack: SlackSender) -> None:
    for text in ("", "help", " HELP "):
        (answer,) = await slack.ask(text)
        assert answer.args["blocks"][0] == {
            "type": "header",
            "text": {"type": "plain_text", "text": "What I can do"},
        }
        assert "• `/ccin search WORDS" in answer.text  # spelled the way Slack users type it
        # Seen only by the asker, and never replacing the message a command was typed under.
        assert answer.args["response_type"] == "ephemeral"
        assert answer.args["replace_original"] is False


async def test_search_finds_the_food_project_as_a_link(slack: SlackSender) -> None:
    (answer,) = await slack.ask("search food")
    assert "1 result for “food”" in answer.text
    assert (
        "<https://bit.ly/CCIN-sustainable-food|Cooperative Approaches to Sustainable Food>"
        in answer.text
    )


async def test_paging_by_pressing_the_buttons(slack: SlackSender) -> None:
    (first,) = await slack.ask("search council")
    assert "(page 1 of " in first.text
    assert "◀ Previous" not in labels(first)
    (second,) = await slack.press(first, "Next ▶")
    assert "(page 2 of " in second.text
    assert {"◀ Previous", "Next ▶"} <= set(labels(second))
    (back,) = await slack.press(second, "◀ Previous")
    assert "(page 1 of " in back.text


async def test_suppliers_and_events(slack: SlackSender) -> None:
    (suppliers,) = await slack.ask("suppliers solicitors")
    assert "Anthony Collins Solicitors" in suppliers.text
    (events,) = await slack.ask("events")
    assert "Upcoming events" in events.text
    assert "Officer Network monthly meeting" in events.text


async def test_join_a_group_by_buttons_and_accept_its_rules(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, sqlite_db: Database
) -> None:
    (listing,) = await slack.ask("groups", channel=ALICE_DM)
    (rules,) = await slack.press(listing, "Join Officer Network", channel=ALICE_DM)
    assert "Officer Network: rules of engagement (version 1)" in rules.text
    (accepted,) = await slack.press(rules, "I accept", channel=ALICE_DM)
    assert "Which organisation are you from?" in accepted.text
    # The organisation is typed in the bot's DM: plain text continues the flow there.
    await slack.event(direct_message("Oldham"))
    await fake.wait_for(lambda: bool(fake.delivered("chat.postMessage")))
    await adapter.drain()
    (role,) = fake.delivered("chat.postMessage")
    assert role.args["channel"] == "DALICE" and "your role?" in role.text
    (joined,) = await slack.press(role, "Officers", channel=ALICE_DM)
    assert "waiting for a network admin to approve" in joined.text
    async with sqlite_db.session() as session:
        person = await people.find_person(session, "slack", ALICE.id)
        assert person is not None
        membership = await groups.membership(session, person.id, "officers")
    assert membership is not None and membership.status == groups.PENDING


async def test_unknown_subcommands_are_explained(slack: SlackSender) -> None:
    (unknown,) = await slack.ask("frobnicate")
    assert "I don't know the command /ccin frobnicate." in unknown.text
    (typo,) = await slack.ask("serach food")
    assert "Did you mean /ccin search?" in typo.text


async def test_data_with_markup_characters_and_emoji_is_escaped(slack: SlackSender) -> None:
    # Slack sends what people type with & < > escaped; the bridge sees the raw characters and
    # the adapter escapes them again on the way out.
    (found,) = await slack.ask("search &lt;b&gt;bold&lt;/b&gt; &amp; 🍲")
    assert " for “&lt;b&gt;bold&lt;/b&gt; &amp; 🍲”" in found.text
    (hello,) = await slack.ask("start", user=type(ALICE)("UODD", "o<&>dd 🌱"))
    assert "Hello o&lt;&amp;&gt;dd 🌱, welcome" in hello.text


async def test_my_data_is_answered_privately_and_the_file_goes_to_the_dm(
    slack: SlackSender, fake: FakeSlack
) -> None:
    summary, note = await slack.ask("mydata")
    assert "What we hold about you" in summary.text
    assert summary.args["response_type"] == "ephemeral"
    assert "I have sent you my-ccin-data.json in our direct messages." in note.text
    (sent,) = fake.files
    assert sent["channel"] == "DALICE" and sent["name"] == "my-ccin-data.json"
    exported = json.loads(sent["content"])
    assert exported["identities"][0]["user_id"] == ALICE.id
    assert fake.api_calls("chat.postMessage") == []  # nothing personal went to the channel


async def test_errors_are_logged_and_never_shown(
    slack: SlackSender, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("conversations.open", "account_inactive")
    with caplog.at_level(logging.ERROR, logger="ccin_bridge.bots.slack.adapter"):
        summary, apology = await slack.ask("mydata")
    assert "What we hold about you" in summary.text
    assert "Sorry, something went wrong on our side" in apology.text
    for answer in (summary, apology):
        assert "account_inactive" not in answer.text and "Error" not in answer.text
    (record,) = [r for r in caplog.records if r.name == "ccin_bridge.bots.slack.adapter"]
    assert record.exc_info is not None
    assert "account_inactive" in str(record.exc_info[1])


# --- events -----------------------------------------------------------------------------------


async def test_url_verification_echoes_the_challenge(slack: SlackSender) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595"
    body = json.dumps({"token": "t", "challenge": challenge, "type": "url_verification"})
    answer = await slack.post(body, "application/json")
    assert answer.status == 200
    assert json.loads(answer.body) == {"challenge": challenge}


async def test_mention_in_a_channel_is_answered_there(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, sqlite_db: Database
) -> None:
    event = mention("suppliers solicitors") | {"thread_ts": "1790000000.000001"}
    assert (await slack.event(event)).status == 200
    await fake.wait_for(lambda: bool(fake.delivered("chat.postMessage")))
    await adapter.drain()
    (posted,) = fake.delivered("chat.postMessage")
    assert posted.args["channel"] == "C0GENERAL"
    assert posted.args["thread_ts"] == "1790000000.000001"
    assert "Anthony Collins Solicitors" in posted.text
    # Events carry only a user id; the name shown back comes from users.info.
    assert [c.args["user"] for c in fake.api_calls("users.info")] == [ALICE.id]
    async with sqlite_db.session() as session:
        person = await people.find_person(session, "slack", ALICE.id)
    assert person is not None and person.display_name == "Alice Example"


async def test_mention_with_markup_and_emoji_is_escaped(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack
) -> None:
    await slack.event(mention("search &lt;script&gt; &amp; 🍲"))
    await fake.wait_for(lambda: bool(fake.delivered("chat.postMessage")))
    await adapter.drain()
    (posted,) = fake.delivered("chat.postMessage")
    assert "“&lt;script&gt; &amp; 🍲”" in posted.text


async def test_private_reply_to_a_mention_is_ephemeral(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack
) -> None:
    await slack.event(mention("mydata"))
    await fake.wait_for(lambda: len(fake.delivered("chat.postEphemeral")) == 2)
    await adapter.drain()
    summary, note = fake.delivered("chat.postEphemeral")
    assert summary.args["user"] == ALICE.id and summary.args["channel"] == "C0GENERAL"
    assert "What we hold about you" in summary.text
    assert "direct messages" in note.text
    assert fake.api_calls("chat.postMessage") == []
    assert [f["channel"] for f in fake.files] == ["DALICE"]


async def test_direct_messages_run_commands_without_a_slash(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack
) -> None:
    await slack.event(direct_message("search food"))
    await fake.wait_for(lambda: len(fake.delivered("chat.postMessage")) == 1)
    # Not what a person typed in the DM: an edit, another bot, a channel message.
    await slack.event(direct_message("search food", subtype="message_changed"))
    await slack.event(direct_message("search food", bot_id="BOTHER"))
    await slack.event(direct_message("search food", channel_type="channel"))
    await slack.event(direct_message("hello there"))
    await fake.wait_for(lambda: len(fake.delivered("chat.postMessage")) == 2)
    await adapter.drain()
    results, nudge = fake.delivered("chat.postMessage")
    assert {results.args["channel"], nudge.args["channel"]} == {"DALICE"}
    assert "Cooperative Approaches to Sustainable Food" in results.text
    assert "Did you want to search for “hello there”?" in nudge.text
    assert labels(nudge) == ["Search for it", "Help"]


async def test_a_step_of_a_flow_in_a_dm_wins_over_a_command_word_it_starts_with(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack
) -> None:
    """A news title such as "Events in Leeds this spring" is the title, not /events."""
    await slack.event(direct_message("news"))
    await fake.wait_for(lambda: len(fake.delivered("chat.postMessage")) == 1)
    await slack.event(direct_message("Events in Leeds this spring"))
    await fake.wait_for(lambda: len(fake.delivered("chat.postMessage")) == 2)
    await slack.event(direct_message("Join us at the summit in Leeds on the first Tuesday."))
    await fake.wait_for(lambda: len(fake.delivered("chat.postMessage")) == 3)
    await adapter.drain()
    asked_title, asked_text, asked_link = fake.delivered("chat.postMessage")
    assert "What is the title?" in asked_title.text
    assert "Now the text" in asked_text.text
    assert "A link where people can read more" in asked_link.text
    # With no flow waiting, the same word is the command again.
    await slack.event(direct_message("cancel"))
    await fake.wait_for(lambda: len(fake.delivered("chat.postMessage")) == 4)
    await slack.event(direct_message("events"))
    await fake.wait_for(lambda: len(fake.delivered("chat.postMessage")) == 5)
    assert "Officer Network" in fake.delivered("chat.postMessage")[-1].text


async def test_a_retried_event_is_handled_once(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack
) -> None:
    event = direct_message("events")
    assert (await slack.event(event, event_id="Ev0RETRY01")).status == 200
    await fake.wait_for(lambda: bool(fake.delivered("chat.postMessage")))
    for attempt in (1, 2):
        assert (await slack.event(event, event_id="Ev0RETRY01", retry=attempt)).status == 200
    await adapter.drain()
    assert len(fake.delivered("chat.postMessage")) == 1
    # A different event is still handled.
    await slack.event(direct_message("events"), event_id="Ev0RETRY02")
    await fake.wait_for(lambda: len(fake.delivered("chat.postMessage")) == 2)


@pytest.mark.slow  # waits out real timeouts and retries
async def test_a_rate_limit_storm_delays_the_message_but_delivers_it_once(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack
) -> None:
    fake.rate_limit(2, method="chat.postMessage")
    started = time.monotonic()
    await slack.event(direct_message("events"))
    await fake.wait_for(lambda: bool(fake.delivered("chat.postMessage")), seconds=15)
    await adapter.drain()
    attempts = fake.api_calls("chat.postMessage")
    assert [c.status for c in attempts] == [429, 429, 200]
    assert len(fake.delivered("chat.postMessage")) == 1
    assert time.monotonic() - started >= 2  # Retry-After: 1, honoured twice


# --- requests Slack did not sign --------------------------------------------------------------


async def test_unsigned_forged_and_stale_requests_are_refused(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, sqlite_db: Database
) -> None:
    before = await row_counts(sqlite_db)
    body = slack.command_body("join housing --accept", "forged")
    form = "application/x-www-form-urlencoded"
    now = int(time.time())
    async with slack.session.post(adapter.url, data=body, headers={"Content-Type": form}) as r:
        assert r.status == 401  # no signature headers at all
    wrong = sign(body, now, secret="not-the-signing-secret")
    assert (await slack.post(body, form, signature=wrong)).status == 401
    tampered = sign(body.replace("housing", "cwb"), now)
    assert (await slack.post(body, form, timestamp=now, signature=tampered)).status == 401
    stale = now - 6 * 60
    assert (await slack.post(body, form, timestamp=stale)).status == 401
    event = slack.event_body(direct_message("join housing --accept"), "Ev0FORGED1")
    assert (await slack.post(event, "application/json", signature="v0=" + "0" * 64)).status == 401
    await adapter.drain()
    assert await row_counts(sqlite_db) == before
    assert fake.calls == []
    # The same command, properly signed, does change the database: the check above can fail.
    (joined,) = await slack.ask("join housing --accept")
    assert "Which organisation are you from?" in joined.text
    assert await row_counts(sqlite_db) != before


# --- Outbound (scheduled messages) ------------------------------------------------------------


async def test_outbound_splits_a_long_reply_and_keeps_private_data_out_of_channels(
    adapter: SlackAdapter, fake: FakeSlack
) -> None:
    builder = ReplyBuilder().heading("Digest")
    for n in range(120):
        builder.para(bold(f"Item {n}: "), "x" * 40 + " & <more> " + "y" * 40)
    builder.para("z" * 7000)
    await adapter.send(chat=ChatRef("slack", "C0NEWS", is_private=False), reply=builder.build())
    posted = fake.delivered("chat.postMessage")
    assert len(posted) == 3 and {c.args["channel"] for c in posted} == {"C0NEWS"}
    texts = "\n".join(c.text for c in posted)
    assert all(f"*Item {n}:*" in texts for n in range(120))
    assert "&amp; &lt;more&gt;" in texts and texts.count("z") >= 7000

    private = ReplyBuilder().para("Your data").build(private=True)
    with pytest.raises(ValueError, match="private"):
        await adapter.send(chat=ChatRef("slack", "C0NEWS", is_private=False), reply=private)
    await adapter.send(chat=ChatRef("slack", "DALICE", is_private=True), reply=private)
    assert [c.args["channel"] for c in fake.delivered("chat.postMessage")][-1] == "DALICE"
    assert len(fake.delivered("chat.postMessage")) == 4
