"""`Bridge.dispatch`: the one entry adapters use. Where each answer goes, bare words, typed
text with a button, and failures contained for every kind of event."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from ccin_bridge.handlers import chat_events
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.errors import GENERIC_ERROR
from ccin_bridge.handlers.events import (
    ASKER_DM,
    ASKER_PRIVATE,
    HERE,
    BlockedByUser,
    BotRemoved,
    ButtonPressed,
    FormSubmitted,
    InlineQuery,
    JoinRequested,
    MemberJoined,
    TypedLine,
)
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Identity
from tests.conftest import Clock
from tests.handlers.groups_support import ADMIN, ALEX_TG, OFFICERS_TG, make_bridge

GROUP = ChatRef("telegram", OFFICERS_TG, is_private=False)
ALEX_DM = ChatRef("telegram", ALEX_TG.user_id, is_private=True)
SLACK_ANN = UserRef("slack", "U0ANNEXAMPLE", display_name="Ann Example", username="ann")
SLACK_DM = ChatRef("slack", "D0ANNEXAMPLE", is_private=True)


@pytest.fixture
async def bridge(settings: Settings, sqlite_db: Database, clock: Clock) -> Bridge:
    return await make_bridge(settings, sqlite_db, clock)


async def test_personal_data_asked_for_in_a_group_goes_to_the_asker_alone(bridge: Bridge) -> None:
    # Telegram cannot show a group message to one member: to the DM.
    outcome = await bridge.dispatch(TypedLine(ALEX_TG, GROUP, "/mydata"))
    assert outcome.replies and {o.to for o in outcome.replies} == {ASKER_DM}
    public = await bridge.dispatch(TypedLine(ALEX_TG, GROUP, "/events"))
    assert {o.to for o in public.replies} == {HERE}
    # Slack can (an ephemeral message): shown in the channel to the asker alone.
    channel = ChatRef("slack", "C0OFFICERS1", is_private=False)
    on_slack = await bridge.dispatch(TypedLine(SLACK_ANN, channel, "/mydata"))
    assert on_slack.replies and {o.to for o in on_slack.replies} == {ASKER_PRIVATE}


async def test_in_a_private_chat_everything_is_answered_there(bridge: Bridge) -> None:
    outcome = await bridge.dispatch(TypedLine(ALEX_TG, ALEX_DM, "/mydata"))
    assert outcome.replies and {o.to for o in outcome.replies} == {HERE}


async def test_commands_are_spelled_as_the_platform_types_them(bridge: Bridge) -> None:
    outcome = await bridge.dispatch(TypedLine(SLACK_ANN, SLACK_DM, "/serch food"))
    assert "Did you mean /ccin search?" in outcome.reply_list[0].plain_text


async def test_a_bare_command_word_runs_only_where_the_platform_types_them_bare(
    bridge: Bridge,
) -> None:
    on_slack = await bridge.dispatch(TypedLine(SLACK_ANN, SLACK_DM, "events"))
    assert "Officer Network" in on_slack.reply_list[0].plain_text
    on_telegram = await bridge.dispatch(TypedLine(ALEX_TG, ALEX_DM, "events"))
    assert "I answer commands such as" in on_telegram.reply_list[0].plain_text


async def test_a_flow_step_wins_over_a_bare_command_word_in_a_slack_dm(bridge: Bridge) -> None:
    await bridge.dispatch(TypedLine(SLACK_ANN, SLACK_DM, "news"))
    outcome = await bridge.dispatch(TypedLine(SLACK_ANN, SLACK_DM, "Events in Leeds this spring"))
    assert "Now the text" in outcome.reply_list[0].plain_text  # it was taken as the title


async def test_text_typed_with_a_button_becomes_its_last_argument(bridge: Bridge) -> None:
    payload = await bridge.encode_action("search", max_bytes=64)
    outcome = await bridge.dispatch(ButtonPressed(ALEX_TG, ALEX_DM, payload, typed="  food  "))
    assert "Cooperative Approaches to Sustainable Food" in outcome.reply_list[0].plain_text


async def test_a_forged_button_payload_is_answered_not_run(bridge: Bridge) -> None:
    outcome = await bridge.dispatch(ButtonPressed(ALEX_TG, ALEX_DM, "#no-such-token"))
    assert "That button has expired" in outcome.reply_list[0].plain_text
    assert not outcome.failed


async def test_a_failing_line_is_contained_and_the_asker_told(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> bool:
        raise RuntimeError("the store is unavailable")

    monkeypatch.setattr(bridge, "_bare_command", broken)
    with caplog.at_level(logging.ERROR):
        outcome = await bridge.dispatch(TypedLine(SLACK_ANN, SLACK_DM, "events"))
    assert outcome.failed and outcome.reply_list[0].plain_text == GENERIC_ERROR
    assert "TypedLine from slack:U0ANNEXAMPLE failed" in caplog.text
    # In a channel, Slack shows it to the asker alone; Telegram says it where they asked.
    channel = ChatRef("slack", "C0OFFICERS1", is_private=False)
    in_channel = await bridge.dispatch(TypedLine(SLACK_ANN, channel, "hello", addressed=True))
    assert [o.to for o in in_channel.replies] == [ASKER_PRIVATE]
    in_group = await bridge.dispatch(TypedLine(ALEX_TG, GROUP, "/events"))
    assert not in_group.failed  # only the bare-word check is broken, and Telegram has none


@pytest.mark.parametrize(
    "event",
    [
        MemberJoined(ALEX_TG, GROUP),
        JoinRequested(ALEX_TG, GROUP),
        BotRemoved(GROUP, ADMIN),
    ],
    ids=["member joined", "join request", "bot removed"],
)
async def test_a_failing_chat_event_is_contained_and_tells_nobody(
    bridge: Bridge,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    event: MemberJoined | JoinRequested | BotRemoved,
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the store is unavailable")

    for name in ("member_joined", "join_request", "bot_membership"):
        monkeypatch.setattr(chat_events, name, broken)
    with caplog.at_level(logging.ERROR):
        outcome = await bridge.dispatch(event)
    assert outcome.failed and outcome.replies == () and outcome.admit is None
    assert f"{type(event).__name__} failed" in caplog.text


async def test_a_join_request_is_answered_with_a_decision_and_a_private_word(
    bridge: Bridge,
) -> None:
    outcome = await bridge.dispatch(JoinRequested(ALEX_TG, GROUP))
    assert outcome.admit is False
    assert [o.to for o in outcome.replies] == [ASKER_DM]
    assert "/join officers" in outcome.reply_list[0].plain_text


async def test_blocking_the_bot_stops_pushes_to_that_account(bridge: Bridge) -> None:
    await bridge.dispatch(TypedLine(ALEX_TG, ALEX_DM, "/help"))

    async def active() -> bool:
        async with bridge.db.read() as session:
            return bool(
                await session.scalar(
                    select(Identity.active).where(Identity.external_id == ALEX_TG.user_id)
                )
            )

    assert await active()
    await bridge.dispatch(BlockedByUser(ALEX_TG))
    assert not await active()
    await bridge.dispatch(BlockedByUser(ALEX_TG, blocked=False))
    assert await active()


async def test_an_inline_query_gets_a_page_of_cards(bridge: Bridge) -> None:
    outcome = await bridge.dispatch(InlineQuery(ALEX_TG, "food"))
    assert outcome.inline is not None and outcome.inline.cards


async def test_an_adapter_keeps_an_accounts_address_through_the_core(bridge: Bridge) -> None:
    reference = {"conversation": {"id": "a:1"}, "serviceUrl": "https://smba.example/"}
    assert not await bridge.remember_address(SLACK_ANN, reference)  # not met yet
    await bridge.dispatch(TypedLine(SLACK_ANN, SLACK_DM, "help"))
    assert await bridge.remember_address(SLACK_ANN, reference)
    assert await bridge.address_of(SLACK_ANN) == reference


async def test_a_form_for_a_command_someone_may_not_run_is_refused_untaken(
    bridge: Bridge,
) -> None:
    answers = {"audience": "officers", "text": "Hello"}
    refused = await bridge.dispatch(FormSubmitted(SLACK_ANN, SLACK_DM, "broadcast", answers))
    assert refused.form is not None and not refused.form.taken
    assert "for network admins only" in refused.reply_list[0].plain_text
    unknown = await bridge.dispatch(FormSubmitted(SLACK_ANN, SLACK_DM, "no-such", answers))
    assert unknown.form is not None and not unknown.form.taken
    assert "I don't know the command" in unknown.reply_list[0].plain_text
