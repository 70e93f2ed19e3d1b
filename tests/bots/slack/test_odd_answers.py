"""Answers and requests the bridge cannot fully read never break a command (issue 11, 5 and 7).

The real Bolt app and the real slack-sdk client against the fake Web API, which here answers
some methods with bodies that are not Slack's JSON, as a proxy or a failing server in front of
Slack may: plain text, an `application/json` body that is not JSON, an HTML page with a 500.
slack-sdk raises something different for each (a `SlackApiError` with an empty body, one
carrying aiohttp's own response, or an AttributeError of its own); none may reach the person.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import pytest
from slack_sdk.errors import SlackApiError

from ccin_bridge.bots.slack.adapter import SlackAdapter
from ccin_bridge.bots.slack.errors import error_code, verdict
from ccin_bridge.bots.slack.render import ACTION_PREFIX
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import ReplyBuilder
from ccin_bridge.scheduler.outbound import Blocked, MaybeSent, Undeliverable, describe
from tests.bots.slack.sender import ALICE, APP_ID, GENERAL, Person, SlackSender
from tests.fakes.slack_api import TEAM_ID, FakeSlack

# (HTTP status, Content-Type, body) that are not a Web API answer.
UNREADABLE = {
    "plain text": (200, "text/plain", "upstream connect error or disconnect/reset"),
    "JSON that is not": (200, "application/json", "<html><body>Bad gateway</body></html>"),
    "HTML 500": (500, "text/html", "<html><body><h1>500 Internal Server Error</h1></body></html>"),
    "HTML 200": (200, "text/html", "<html><body>Please log in</body></html>"),
}
CHANNEL = ChatRef("slack", GENERAL[0], is_private=False)


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("kind", list(UNREADABLE))
async def test_a_command_still_answers_when_users_info_is_unreadable(
    slack: SlackSender, fake: FakeSlack, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    status, content_type, body = UNREADABLE[kind]
    fake.answer_raw("users.info", body, status=status, content_type=content_type)
    with caplog.at_level(logging.INFO):
        (answer,) = await slack.ask("start")
    # The handle from the slash command stands in for the name users.info would have given.
    assert f"Hello {ALICE.handle}, welcome" in answer.text
    assert [c.status for c in fake.api_calls("users.info")] == [status]
    assert errors_logged(caplog) == []
    warned = [r.getMessage() for r in caplog.records if "users.info" in r.getMessage()]
    assert warned and all(body not in w for w in warned)  # what failed, not what was said


# (slack-sdk's own parsing of a text/plain 200 fails with an AttributeError before any
# SlackApiError: for the outbox an unknown, so transient, error; users.info survives it above.)
@pytest.mark.parametrize("kind", ["JSON that is not", "HTML 500", "HTML 200"])
async def test_an_unreadable_answer_is_transient_and_its_error_code_empty(
    adapter: SlackAdapter, fake: FakeSlack, kind: str
) -> None:
    status, content_type, body = UNREADABLE[kind]
    fake.answer_raw("chat.postMessage", body, status=status, content_type=content_type)
    with pytest.raises(SlackApiError) as caught:
        await adapter.client.chat_postMessage(channel=GENERAL[0], text="News")
    assert error_code(caught.value) == ""  # never raises, whatever slack-sdk put in `response`
    outcome = verdict(caught.value, about_person=False)
    assert not isinstance(outcome, (Blocked, Undeliverable))  # retried, never given up
    if status == 200:  # Slack said yes; the body that would confirm it was garbled
        assert isinstance(outcome, MaybeSent)
    else:
        assert outcome is None and describe(caught.value) == f"platform error {status}"


@pytest.mark.parametrize("kind", ["JSON that is not", "HTML 200"])
async def test_a_send_slack_said_yes_to_but_garbled_may_have_been_sent(
    adapter: SlackAdapter, fake: FakeSlack, kind: str
) -> None:
    status, content_type, body = UNREADABLE[kind]
    fake.add_channel(GENERAL[0])
    fake.answer_raw("chat.postMessage", body, status=status, content_type=content_type)
    with pytest.raises(MaybeSent):
        await adapter.send(chat=CHANNEL, reply=ReplyBuilder().para("News").build())


async def test_a_send_answered_with_an_html_500_stays_transient(
    adapter: SlackAdapter, fake: FakeSlack
) -> None:
    status, content_type, body = UNREADABLE["HTML 500"]
    fake.answer_raw("chat.postMessage", body, status=status, content_type=content_type)
    with pytest.raises(SlackApiError) as caught:
        await adapter.send(chat=CHANNEL, reply=ReplyBuilder().para("News").build())
    assert describe(caught.value) == "platform error 500"  # what the outbox records


# --- requests that were not made the way the adapter expects -----------------------------------


async def test_a_join_request_form_button_without_its_form_is_ignored(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    forged = {
        "type": "block_actions",
        "user": {"id": ALICE.id, "username": ALICE.handle, "team_id": TEAM_ID},
        "container": {"type": "message", "channel_id": GENERAL[0]},
        "actions": [
            {
                "type": "button",
                "action_id": "ccin-form:0",
                "block_id": "b1",
                "value": "=approve 1",
                "action_ts": "1",
            }
        ],
    }
    with caplog.at_level(logging.INFO):
        answer = await slack.interactive(forged)
        await adapter.drain()
    assert answer.status == 200
    assert errors_logged(caplog) == []
    assert not [r for r in caplog.records if r.exc_info]
    assert any("outside the form" in r.getMessage() for r in caplog.records)
    assert fake.api_calls("views.update") == [] and fake.api_calls("chat.postMessage") == []


async def test_a_non_admins_broadcast_command_gets_the_refusal_not_the_form(
    slack: SlackSender, fake: FakeSlack
) -> None:
    (answer,) = await slack.ask("broadcast")
    assert "/ccin broadcast is for network admins only." in answer.text
    assert fake.api_calls("views.open") == []


async def test_lone_surrogates_in_a_name_and_a_button_do_not_break_it(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """JSON may escape half a surrogate pair; Python reads it as text no database or HTTP
    body can encode. Someone users.info does not know, so the handle is all there is."""
    eve = Person("UEVE", "e\ud800ve")
    key = "surrogates"
    payload = {
        "type": "block_actions",
        "user": {"id": eve.id, "username": eve.handle, "name": eve.handle, "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "container": {"type": "message", "channel_id": GENERAL[0], "is_ephemeral": True},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "team": {"id": TEAM_ID, "domain": "ccin-test"},
        "channel": {"id": GENERAL[0], "name": GENERAL[1]},
        "response_url": fake.response_url(key),
        "actions": [
            {
                "type": "button",
                "action_id": ACTION_PREFIX + "0",
                "block_id": "b1",
                "text": {"type": "plain_text", "text": "Search"},
                "value": "=search f\udc00ood",
                "action_ts": "1",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)})  # ASCII: the surrogates are \u escapes
    assert "\\ud800" in json.dumps(payload)
    with caplog.at_level(logging.INFO):
        answer = await slack.post(body, "application/x-www-form-urlencoded")
        assert answer.status == 200
        await fake.wait_for(lambda: bool(fake.responses(key)))
        await adapter.drain()
    (reply,) = fake.responses(key)
    assert "Cooperative Approaches to Sustainable Food" in reply.text
    assert errors_logged(caplog) == []
