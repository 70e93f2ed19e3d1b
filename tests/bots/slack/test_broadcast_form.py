"""Slack's admin forms from the flows' declarations: the broadcast modal is the broadcast
flow's steps, submitted through their parsers; its buttons and the join-requests form's are
found by their marks (roles, takes_text), never by reading command lines.

The real Bolt app over HTTP, the real bridge on SQLite and the fake Web API (conftest.py).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select

from ccin_bridge.bots.slack import modals
from ccin_bridge.bots.slack.adapter import SlackAdapter
from ccin_bridge.bots.slack.modals import BROADCAST_CONFIRM
from ccin_bridge.handlers import broadcasts, flow
from ccin_bridge.handlers.commands.broadcast import BROADCAST, BroadcastState
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import UserRef
from ccin_bridge.store import groups, people
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Conversation, Push
from tests.bots.slack.sender import ALICE, BOB, SlackSender, view_buttons, view_text
from tests.fakes.slack_api import FakeSlack

MESSAGE = "Hello officers,\n\nsee you on Tuesday."


def values(audience: str, message: str) -> dict[str, Any]:
    """A broadcast form's state as Slack sends it on submission."""
    return {
        "audience": {
            "audience": {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": audience},
                    "value": audience,
                },
            }
        },
        "text": {"text": {"type": "plain_text_input", "value": message}},
    }


def opened(fake: FakeSlack) -> dict[str, Any]:
    view_id = list(fake.views)[-1]
    return fake.views[view_id] | {"id": view_id}


async def conversations(db: Database) -> list[Conversation]:
    async with db.session() as session:
        return list(await session.scalars(select(Conversation)))


async def pushes(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Push)) or 0)


async def open_form(bridge: Bridge, slack: SlackSender, fake: FakeSlack) -> dict[str, Any]:
    bridge.grant_session_admin(UserRef("slack", BOB.id))
    await slack.command("broadcast", user=BOB)
    await fake.wait_for(lambda: bool(fake.delivered("views.open")))
    return opened(fake)


async def preview(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, form: dict[str, Any]
) -> dict[str, Any]:
    updates = len(fake.delivered("views.update"))
    answer = await slack.submit(form, values("officers", MESSAGE), user=BOB)
    assert answer.status == 200
    await fake.wait_for(lambda: len(fake.delivered("views.update")) > updates)
    await adapter.drain()
    return opened(fake)


async def test_the_form_is_the_broadcast_flows_steps(
    bridge: Bridge, slack: SlackSender, fake: FakeSlack
) -> None:
    form = await open_form(bridge, slack, fake)
    audience_step, text_step = BROADCAST.steps[0], BROADCAST.steps[1]
    assert [b["block_id"] for b in form["blocks"]] == [audience_step.name, text_step.name]
    select_, text_input = (b["element"] for b in form["blocks"])
    assert [b["label"]["text"] for b in form["blocks"]] == [audience_step.label, text_step.label]
    # The audiences the step offers, which are the configured ones and everyone.
    offered = BROADCAST.form_fields(flow.FormEnv(bridge.settings, True))[0].options
    assert [(o["value"], o["text"]["text"]) for o in select_["options"]] == [
        (o.value, o.label) for o in offered
    ]
    assert [o.value for o in offered] == [slug for slug, _ in broadcasts.choices(bridge.settings)]
    assert select_["type"] == "static_select"
    assert select_["placeholder"]["text"] == audience_step.placeholder
    assert isinstance(text_step.kind, flow.Text) and text_step.kind.multiline
    assert text_input["type"] == "plain_text_input" and text_input["multiline"] is True
    # The step's length where Slack allows it (its inputs stop at 3,000).
    assert text_input["max_length"] == min(text_step.kind.max_length, 3000) == 3000


def test_the_form_follows_the_step_declarations(
    adapter: SlackAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Declared otherwise, drawn otherwise: nothing in the form is written by hand."""
    audience, text, confirm = BROADCAST.steps

    def two(env: flow.Env, state: BroadcastState) -> list[flow.Option]:
        return [flow.Option("officers", "The officers"), flow.Option("everyone", "All of you")]

    other = replace(
        BROADCAST,
        steps=(
            replace(text, label="Your words", kind=flow.Text(1200, multiline=False)),
            replace(audience, kind=flow.Choice(two), placeholder=""),
            confirm,
        ),
    )
    monkeypatch.setattr(modals, "BROADCAST_FLOW", other)
    blocks = adapter.modals.broadcast_form()["blocks"]
    assert [b["block_id"] for b in blocks] == ["text", "audience"]
    assert blocks[0]["label"]["text"] == "Your words"
    assert blocks[0]["element"] == {
        "type": "plain_text_input",
        "action_id": "text",
        "multiline": False,
        "max_length": 1200,
    }
    assert blocks[1]["element"] == {
        "type": "static_select",
        "action_id": "audience",
        "options": [
            {"text": {"type": "plain_text", "text": "The officers"}, "value": "officers"},
            {"text": {"type": "plain_text", "text": "All of you"}, "value": "everyone"},
        ],
    }


async def test_a_value_the_steps_refuse_is_shown_on_its_field(
    bridge: Bridge, slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, sqlite_db: Database
) -> None:
    form = await open_form(bridge, slack, fake)
    too_long = "x" * (broadcasts.MAX_TEXT + 100)  # past the cap, as a forged form could send
    answer = await slack.submit(form, values("officers", too_long), user=BOB)
    assert answer.status == 200
    body = json.loads(answer.body)
    assert body == {
        "response_action": "errors",
        "errors": {"text": "That is 3,600 characters; please keep a broadcast under 3,500."},
    }
    answer = await slack.submit(form, values("pets", "   "), user=BOB)
    assert json.loads(answer.body)["errors"] == {
        "audience": "Please choose one of the options.",
        "text": "The broadcast has no text. Please send the message to broadcast.",
    }
    await adapter.drain()
    assert fake.api_calls("views.update") == []
    assert await conversations(sqlite_db) == []  # nothing was saved for a refused form


async def test_submitting_shows_the_flows_preview_and_keeps_its_buttons(
    bridge: Bridge, slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, sqlite_db: Database
) -> None:
    form = await open_form(bridge, slack, fake)
    shown = await preview(slack, adapter, fake, form)
    assert "Preview: broadcast to Officers" in view_text(shown)
    assert view_buttons(shown) == []  # Confirm and Cancel are the form's own
    assert shown["callback_id"] == BROADCAST_CONFIRM
    stored = json.loads(shown["private_metadata"])
    assert set(stored) == {"confirm", "cancel"}
    assert await bridge.decode_action(stored["confirm"]) == "broadcast --confirm"
    assert await bridge.decode_action(stored["cancel"]) == "cancel"
    [row] = await conversations(sqlite_db)
    assert row.step == "confirm"
    assert BroadcastState.model_validate(row.data) == BroadcastState(
        audience="officers", text="Hello officers,\n\nsee you on Tuesday."
    )


async def test_confirm_sends_once_and_close_cancels(
    bridge: Bridge, slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, sqlite_db: Database
) -> None:
    form = await open_form(bridge, slack, fake)
    shown = await preview(slack, adapter, fake, form)
    assert (await slack.submit(shown, user=BOB)).status == 200
    await fake.wait_for(lambda: bool(fake.delivered("chat.postMessage")))
    await adapter.drain()
    assert "Broadcast #1 is recorded" in fake.delivered("chat.postMessage")[0].text
    assert await pushes(sqlite_db) == 1
    assert (await slack.submit(shown, user=BOB)).status == 200  # the same view again
    await fake.wait_for(lambda: len(fake.delivered("chat.postMessage")) == 2)
    await adapter.drain()
    assert "no broadcast waiting" in fake.delivered("chat.postMessage")[1].text
    assert await pushes(sqlite_db) == 1

    again = await preview(slack, adapter, fake, form)  # the form submitted once more
    assert len(await conversations(sqlite_db)) == 1
    assert (await slack.close(again, user=BOB)).status == 200
    await fake.wait_for(lambda: len(fake.delivered("chat.postMessage")) == 3)
    await adapter.drain()
    assert "Cancelled" in fake.delivered("chat.postMessage")[2].text
    assert await conversations(sqlite_db) == []
    assert await pushes(sqlite_db) == 1


async def test_a_confirm_view_without_the_stored_buttons_does_nothing(
    bridge: Bridge, slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, sqlite_db: Database
) -> None:
    form = await open_form(bridge, slack, fake)
    shown = await preview(slack, adapter, fake, form)
    forged = [
        shown | {"private_metadata": ""},
        shown | {"private_metadata": "broadcast --confirm"},  # a command line is not stored
        shown | {"private_metadata": json.dumps({"cancel": "=cancel"})},  # no confirm in it
        shown | {"private_metadata": json.dumps(["=broadcast --confirm"])},
    ]
    for view in forged:
        assert (await slack.submit(view, user=BOB)).status == 200
    closed = shown | {"private_metadata": json.dumps({"confirm": "=broadcast --confirm"})}
    assert (await slack.close(closed, user=BOB)).status == 200  # no cancel in it
    await adapter.drain()
    assert fake.api_calls("chat.postMessage") == []
    assert await pushes(sqlite_db) == 0
    assert len(await conversations(sqlite_db)) == 1  # the preview still waits


async def test_a_form_submitted_by_someone_not_an_admin_gets_the_refusal(
    slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, sqlite_db: Database
) -> None:
    form = {"id": "VFORGED", "type": "modal", "callback_id": "ccin_broadcast", "blocks": []}
    answer = await slack.submit(form, values("officers", MESSAGE), user=ALICE)
    body = json.loads(answer.body)
    assert body["response_action"] == "update"
    assert "/ccin broadcast is for network admins only." in view_text(body["view"])
    assert "submit" not in body["view"]
    await adapter.drain()
    assert await conversations(sqlite_db) == []


# --- the join-requests form -----------------------------------------------------------------


async def pending_request(db: Database, user_id: str, name: str) -> int:
    async with db.session() as session:
        person, _ = await people.touch(
            session, platform="slack", external_id=user_id, display_name=name, username=None
        )
        await groups.set_membership(
            session, person_id=person.id, slug="officers", status=groups.PENDING
        )
        (row,) = [r for r in await groups.pending_requests(session) if r.person_id == person.id]
        return row.request_id


async def review(bridge: Bridge, slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack) -> Any:
    bridge.grant_session_admin(UserRef("slack", BOB.id))
    assert (await slack.shortcut("ccin_approvals", user=BOB)).status == 200
    await fake.wait_for(lambda: bool(fake.delivered("views.update")))
    await adapter.drain()
    return opened(fake)


async def test_the_join_requests_form_marks_what_takes_the_reason(
    bridge: Bridge, slack: SlackSender, adapter: SlackAdapter, fake: FakeSlack, sqlite_db: Database
) -> None:
    first = await pending_request(sqlite_db, ALICE.id, "Alice Example")
    form = await review(bridge, slack, adapter, fake)
    ids = {b["text"]["text"]: b["action_id"] for b in view_buttons(form)}
    assert ids[f"Decline #{first}"].endswith(":reason")  # the Decline button takes the reason
    assert not ids[f"Approve #{first}"].endswith(":reason")
    reason_block = str(form["blocks"][-1]["block_id"])
    typed = {reason_block: {"reason": {"type": "plain_text_input", "value": "Not an officer"}}}

    # Without the mark (not drawn by the form), the typed reason does not go with it: the
    # decline asks for its reason instead.
    unmarked = form | {
        "blocks": [
            {
                **b,
                "elements": [
                    {**e, "action_id": e["action_id"].removesuffix(":reason")}
                    for e in b["elements"]
                ],
            }
            if b["type"] == "actions"
            else b
            for b in form["blocks"]
        ]
    }
    await slack.press_in_view(unmarked, f"Decline #{first}", user=BOB, values=typed)
    await fake.wait_for(lambda: len(fake.delivered("views.update")) == 2)
    await adapter.drain()
    asked = opened(fake)
    assert f"Why are you declining #{first}?" in view_text(asked)
    async with sqlite_db.session() as session:
        still = await groups.request(session, first)
    assert still is not None and still.status == groups.PENDING

    await slack.press_in_view(asked, f"Decline #{first}", user=BOB, values=typed)
    await fake.wait_for(lambda: len(fake.delivered("views.update")) == 3)
    await adapter.drain()
    assert f"Declined #{first}." in view_text(opened(fake))
    async with sqlite_db.session() as session:
        declined = await groups.request(session, first)
    assert declined is not None and declined.reason == "Not an officer"
