"""The flow engine (handlers/flow.py) on its own: a tiny declared flow run through the Bridge.

An order: a size (a choice), a topping (free text, skipped for a small one), a note (free text
that keeps its lines) and a yes. Everything goes through a real Bridge on the seeded SQLite, so
the saved state, the 2-day expiry and /cancel are the real ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from ccin_bridge.handlers import flow
from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge, Command, Context
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.events import FormSubmitted
from ccin_bridge.handlers.forms import Form
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, text
from ccin_bridge.store import conversations
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Conversation
from tests.conftest import Clock
from tests.handlers.push_support import ALEX, press, say, says


class Order(flow.State):
    size: str | None = None
    topping: str | None = None
    note: str | None = None


@dataclass
class Kitchen:
    """What the flow's finish was called with."""

    orders: list[tuple[Order, datetime | None]] = field(default_factory=list)


KITCHEN = Kitchen()
SIZES = (flow.Option("small", "Small"), flow.Option("large", "Large"))


def _sizes(env: flow.Env, state: Order) -> list[flow.Option]:
    return list(SIZES)


async def _ask_size(ctx: Context, state: Order) -> Reply:
    builder = ReplyBuilder().para("Which size?")
    for option in _sizes(ctx, state):
        builder.buttons(Button(option.label, f"order {option.value}"))
    return builder.build()


async def _size(ctx: Context, state: Order, answer: str) -> Order:
    if answer.casefold() not in {o.value for o in SIZES}:
        raise UserFacingError(f"There is no size “{answer}”.")
    return state.model_copy(update={"size": answer.casefold()})


async def _ask_topping(ctx: Context, state: Order) -> Reply:
    return text(f"Which topping on your {flow.need(state.size)} one?")


async def _topping(ctx: Context, state: Order, answer: str) -> Order | Reply:
    flow.need(state.size)  # a topping goes on a size chosen before
    if answer == "anchovies":  # settles nothing: the step stays, with a reply of its own
        return text("We are out of anchovies; pick another.")
    if not answer or len(answer) > 20:
        raise UserFacingError("A topping is 1 to 20 characters.")
    return state.model_copy(update={"topping": answer})


async def _ask_note(ctx: Context, state: Order) -> Reply:
    return text("Any note for the kitchen?")


async def _note(ctx: Context, state: Order, answer: str) -> Order:
    return state.model_copy(update={"note": answer})


async def _ask_confirm(ctx: Context, state: Order) -> Reply:
    return (
        ReplyBuilder()
        .para(f"Order a {flow.need(state.size)} one?")
        .buttons(
            Button("Order", "order --confirm", "confirm"), Button("Cancel", "cancel", "cancel")
        )
        .build()
    )


async def _say_order(ctx: Context, state: Order) -> Reply:
    return text("Say “order” to order it.")


async def _cook(ctx: Context, state: Order, saved_at: datetime | None) -> Reply:
    KITCHEN.orders.append((state, saved_at))
    return text(f"Ordered: {state.size}, {state.topping or 'plain'}.")


ORDER = flow.Flow(
    command="order",
    state=Order,
    steps=(
        flow.Step("size", _ask_size, flow.Choice(_sizes), _size, label="Size"),
        flow.Step(
            "topping",
            _ask_topping,
            flow.Text(20),
            _topping,
            skip=lambda state: state.size == "small",
            label="Topping",
            placeholder="Ham, olives…",
        ),
        flow.Step("note", _ask_note, flow.Text(200, multiline=True), _note, label="Note"),
        flow.Step("confirm", _ask_confirm, flow.Confirm(("order",), reask=_say_order)),
    ),
    finish=_cook,
)


async def order(ctx: Context) -> list[Reply]:
    form = flow.submitted_form(ctx)
    if form is not None:
        return await ORDER.take_form(ctx, form)
    if ctx.conversation is not None:
        return await ORDER.reply(ctx)
    if ctx.args == "--confirm":
        return await ORDER.confirm(ctx, missing=text("There is no order waiting."))
    if ctx.args == "--resume":
        return await ORDER.resume(ctx) or [text("No order in progress.")]
    return await ORDER.start(ctx, answers={"size": ctx.args} if ctx.args else None)


@pytest.fixture
async def kitchen(settings: Settings, sqlite_db: Database, clock: Clock) -> Bridge:
    KITCHEN.orders.clear()
    commands = [*all_commands(), Command("order", "Order one", order, free_text=True)]
    bridge = Bridge(settings, sqlite_db, commands, clock=clock)
    await bridge.start()
    return bridge


async def saved(bridge: Bridge) -> tuple[str, dict[str, object]] | None:
    async with bridge.db.session() as session:
        row = await session.scalar(select(Conversation))
        return None if row is None else (row.step, dict(row.data))


async def overwrite(bridge: Bridge, step: str, data: dict[str, object]) -> None:
    """Replace the saved conversation (as an older or newer version might have left it)."""
    async with bridge.db.session() as session:
        row = await session.scalar(select(Conversation))
        assert row is not None
        await conversations.save(
            session, row.identity_id, command=row.command, step=step, data=data
        )


async def test_steps_run_in_order_and_a_skipped_step_is_not_asked(kitchen: Bridge) -> None:
    assert "Which size?" in says(await say(kitchen, ALEX, "/order"))
    assert "Any note" in says(await say(kitchen, ALEX, "small"))  # no topping for a small one
    assert await saved(kitchen) == ("note", {"size": "small", "topping": None, "note": None})
    await say(kitchen, ALEX, "/order")
    assert "Which topping on your large one?" in says(await say(kitchen, ALEX, "large"))


async def test_a_bad_answer_is_explained_and_the_same_step_asked_again(kitchen: Bridge) -> None:
    await say(kitchen, ALEX, "/order")
    again = await say(kitchen, ALEX, "medium")
    assert says(again).startswith("There is no size “medium”.")
    assert "Which size?" in says(again)
    assert [b.action for r in again for row in r.buttons for b in row] == [
        "order small",
        "order large",
    ]
    assert (await saved(kitchen) or ("",))[0] == "size"
    await say(kitchen, ALEX, "large")
    out = says(await say(kitchen, ALEX, "anchovies"))  # a parser's own reply keeps the step
    assert out == "We are out of anchovies; pick another."
    assert (await saved(kitchen) or ("",))[0] == "topping"
    assert "A topping is 1 to 20" in says(await say(kitchen, ALEX, "x" * 21))
    assert "Any note" in says(await say(kitchen, ALEX, "ham\nolives"))  # one line: joined
    assert (await saved(kitchen) or ("", {}))[1]["topping"] == "ham olives"


async def test_the_finish_gets_the_complete_state_and_the_flow_ends(kitchen: Bridge) -> None:
    await say(kitchen, ALEX, "/order large")  # the command's answer fills the first step
    await say(kitchen, ALEX, "olives")
    asked = await say(kitchen, ALEX, "No onions\nplease")
    assert "Order a large one?" in says(asked)
    assert [(b.role, b.action) for r in asked for row in r.buttons for b in row] == [
        ("confirm", "order --confirm"),
        ("cancel", "cancel"),
    ]
    assert says(await say(kitchen, ALEX, "maybe")) == "Say “order” to order it."
    assert "Ordered: large, olives." in says(await say(kitchen, ALEX, "order"))
    [(state, when)] = KITCHEN.orders
    assert state == Order(size="large", topping="olives", note="No onions\nplease")
    assert when is not None
    assert await saved(kitchen) is None
    assert "I answer commands such as" in says(await say(kitchen, ALEX, "order"))


async def test_the_confirm_button_finishes_once(kitchen: Bridge, clock: Clock) -> None:
    await say(kitchen, ALEX, "/order small")
    assert "There is no order waiting." in says(await press(kitchen, ALEX, "order --confirm"))
    await say(kitchen, ALEX, "Quickly")
    async with kitchen.db.session() as session:
        row = await session.scalar(select(Conversation))
        assert row is not None
        preview_saved = row.updated_at
    clock.now += timedelta(minutes=5)
    assert "Ordered: small, plain." in says(await press(kitchen, ALEX, "order --confirm"))
    assert "There is no order waiting." in says(await press(kitchen, ALEX, "order --confirm"))
    [(_, when)] = KITCHEN.orders
    assert when == preview_saved  # when the step answered was saved


async def test_a_bad_answer_given_with_the_command_saves_nothing(kitchen: Bridge) -> None:
    assert says(await say(kitchen, ALEX, "/order huge")) == "There is no size “huge”."
    assert await saved(kitchen) is None


async def test_resume_asks_the_waiting_step_again(kitchen: Bridge) -> None:
    assert "No order in progress." in says(await say(kitchen, ALEX, "/order --resume"))
    await say(kitchen, ALEX, "/order")
    await say(kitchen, ALEX, "large")
    assert says(await say(kitchen, ALEX, "/order --resume")) == "Which topping on your large one?"
    assert "Any note" in says(await say(kitchen, ALEX, "ham"))


async def test_cancel_ends_the_flow(kitchen: Bridge) -> None:
    await say(kitchen, ALEX, "/order large")
    assert "Cancelled" in says(await say(kitchen, ALEX, "/cancel"))
    assert await saved(kitchen) is None
    assert "I answer commands such as" in says(await say(kitchen, ALEX, "ham"))
    assert "There is nothing to cancel." in says(await say(kitchen, ALEX, "/cancel"))


async def saved_at(bridge: Bridge) -> datetime:
    async with bridge.db.session() as session:
        row = await session.scalar(select(Conversation))
        assert row is not None
        when: datetime = row.updated_at
        return when


async def test_a_flow_untouched_for_two_days_is_forgotten(kitchen: Bridge, clock: Clock) -> None:
    await say(kitchen, ALEX, "/order large")
    clock.now = await saved_at(kitchen) + conversations.EXPIRY - timedelta(minutes=1)
    assert "Any note" in says(await say(kitchen, ALEX, "ham"))  # answering keeps it fresh
    clock.now = await saved_at(kitchen) + conversations.EXPIRY + timedelta(minutes=1)
    assert "I answer commands such as" in says(await say(kitchen, ALEX, "None"))
    assert "No order in progress." in says(await say(kitchen, ALEX, "/order --resume"))
    assert KITCHEN.orders == []


@pytest.mark.parametrize(
    ("step", "data"),
    [
        ("topping", {"size": 5}),  # a field of the wrong type
        ("topping", {"size": "large", "colour": "red"}),  # a field this version does not have
        ("wrap", {"size": "large"}),  # a step this version does not have
        ("topping", {"size": "small"}),  # a step that no longer applies to the state
        ("topping", {}),  # valid, but without what an earlier step gave (the prompt needs it)
    ],
)
async def test_a_saved_state_that_no_longer_fits_ends_the_flow(
    kitchen: Bridge, step: str, data: dict[str, object]
) -> None:
    await say(kitchen, ALEX, "/order")
    await overwrite(kitchen, step, data)
    answer = says(await say(kitchen, ALEX, "ham"))
    assert answer == "That step has expired. Please start again with /order."
    assert await saved(kitchen) is None
    await say(kitchen, ALEX, "/order")
    await overwrite(kitchen, step, data)
    resumed = says(await say(kitchen, ALEX, "/order --resume"))
    assert resumed == "That step has expired. Please start again with /order."
    assert KITCHEN.orders == []


# --- forms -------------------------------------------------------------------------------------


async def run_form(
    bridge: Bridge, command: str, answers: dict[str, str], *, check_only: bool = False
) -> tuple[Form, list[Reply]]:
    """A platform's form submitted through the core's one entry, as an adapter does."""
    outcome = await bridge.dispatch(
        FormSubmitted(ALEX, ChatRef("terminal", "alex"), command, answers, check_only)
    )
    assert outcome.form is not None
    return outcome.form, outcome.reply_list


def test_form_fields_are_the_steps_before_the_confirm(settings: Settings) -> None:
    fields = ORDER.form_fields(flow.FormEnv(settings, is_admin=False))
    assert fields == [
        flow.Field("size", "Size", options=SIZES),
        flow.Field("topping", "Topping", "Ham, olives…", text=flow.Text(20)),
        flow.Field("note", "Note", text=flow.Text(200, multiline=True)),
    ]


async def test_a_form_is_checked_by_the_steps_parsers_field_by_field(kitchen: Bridge) -> None:
    checked, _ = await run_form(
        kitchen, "order", {"size": "huge", "topping": "x" * 30}, check_only=True
    )
    # Not one a form could send; the topping needs a size, so it waits for one.
    assert checked.errors == {"size": "Please choose one of the options."}
    assert not checked.taken
    checked, _ = await run_form(
        kitchen,
        "order",
        {"size": "large", "topping": "x" * 30, "note": "n" * 300},
        check_only=True,
    )
    assert checked.errors == {
        "topping": "A topping is 1 to 20 characters.",  # the parser's own words
        "note": "That is 300 characters; please keep it to 200 or fewer.",  # the declaration's
    }
    checked, _ = await run_form(
        kitchen, "order", {"size": "large", "topping": "anchovies"}, check_only=True
    )
    assert checked.errors == {"topping": "We are out of anchovies; pick another."}
    ok, replies = await run_form(
        kitchen, "order", {"size": "small", "topping": "x" * 30}, check_only=True
    )
    assert ok.errors == {} and ok.taken and replies == []  # a skipped field is not read
    assert await saved(kitchen) is None  # checking saves nothing


async def test_a_submitted_form_goes_on_at_the_confirm_step(kitchen: Bridge) -> None:
    result, replies = await run_form(
        kitchen,
        "order",
        {"size": "large", "topping": " ham\n", "note": "Line one\r\n\r\n\r\nLine two"},
    )
    assert result.taken and "Order a large one?" in says(replies)
    assert await saved(kitchen) == (
        "confirm",
        {"size": "large", "topping": "ham", "note": "Line one\n\nLine two"},
    )
    assert "Ordered: large, ham." in says(await press(kitchen, ALEX, "order --confirm"))
    # A command that takes no form answers as ever, and says it did not take it.
    other, replies = await run_form(kitchen, "help", {"size": "large"})
    assert not other.taken and "What I can do" in says(replies)


def test_a_flow_is_declared_with_distinct_steps_and_parsers() -> None:
    size = ORDER.steps[0]
    with pytest.raises(ValueError, match="distinct"):
        flow.Flow("order", Order, (size, size), _cook)
    with pytest.raises(ValueError, match="needs a parser"):
        flow.Flow("order", Order, (flow.Step("note", _ask_note, flow.Text(10)),), _cook)
