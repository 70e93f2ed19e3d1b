"""The real PTB Application, long-polling a fake Bot API, with the real Bridge on real SQLite.

Every update goes through `getUpdates`; every answer is validated by the fake as Telegram
would (HTML, lengths, keyboards), and the `fake_api` fixture fails any test in which the
server had to refuse a call with 400.
"""

from __future__ import annotations

import json
import logging
import time

import pytest

from ccin_bridge.bots.telegram.adapter import ALLOWED_UPDATES, CALLBACK_DATA_BYTES, TelegramBot
from ccin_bridge.bots.telegram.render import MAX_TEXT
from ccin_bridge.handlers.config import ConfigError
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.store import people
from tests.bots.telegram.conftest import ALICE, BOB, CAROL, DANA, GROUP, Harness, long_reply
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, SentMessage, TgUser, utf16_length


def texts(messages: list[SentMessage]) -> str:
    return "\n".join(m.text for m in messages)


def labels(message: SentMessage) -> list[str]:
    return [b["text"] for b in message.buttons]


async def test_start_greets_by_name_with_buttons(telegram: Harness) -> None:
    [answer] = await telegram.say(ALICE, "/start")
    assert answer.chat_id == ALICE.id
    assert "Hello Alice Example, welcome to the Co-operative Councils' Innovation Network" in (
        answer.text
    )
    assert "<b>Co-operative Councils' Innovation Network</b>" in answer.html
    assert labels(answer) == ["Groups", "Events", "DPS suppliers", "Help"]
    assert answer.reply_markup == {
        "inline_keyboard": [
            [
                {"text": "Groups", "callback_data": "=groups"},
                {"text": "Events", "callback_data": "=events"},
            ],
            [
                {"text": "DPS suppliers", "callback_data": "=suppliers"},
                {"text": "Help", "callback_data": "=help"},
            ],
        ]
    }
    sent = telegram.api.calls_to("sendMessage")[-1].params
    assert sent["parse_mode"] == "HTML"
    assert sent["link_preview_options"] == {"is_disabled": True}


async def test_startup_publishes_commands_and_polls_for_the_right_updates(
    telegram: Harness,
) -> None:
    api = telegram.api
    await telegram.say(ALICE, "/start")  # a long poll is recorded when it is answered
    assert [c.method for c in api.calls[:8]] == [
        "getMe",
        "getMyDescription",
        "setMyDescription",
        "getMyShortDescription",
        "setMyShortDescription",
        "setMyCommands",
        "setMyCommands",
        "deleteWebhook",
    ]
    published = {c["command"] for c in api.commands["all_private_chats"]}
    visible = {c.name for c in telegram.bot.bridge.visible_commands(is_admin=False)}
    assert published == visible
    assert {"start", "help", "search", "suppliers", "events", "groups", "join"} <= published
    assert "find" not in published  # aliases are not listed twice
    polls = api.calls_to("getUpdates")
    assert polls, "the bot never polled"
    assert polls[0].params["allowed_updates"] == list(ALLOWED_UPDATES)
    assert {
        "message",
        "edited_message",
        "callback_query",
        "inline_query",
        "chat_join_request",
        "my_chat_member",
        "chat_member",
    } == set(polls[0].params["allowed_updates"])


async def test_help_lists_the_commands(telegram: Harness) -> None:
    [answer] = await telegram.say(ALICE, "/help")
    for name in ("/start", "/groups", "/join GROUP", "/search", "/events", "/mydata"):
        assert name in answer.text
    assert "<code>/help</code>" in answer.html
    assert "• " in answer.text


async def test_search_food_finds_the_sustainable_food_project(telegram: Harness) -> None:
    answer = await telegram.say(ALICE, "/search food")
    assert "Cooperative Approaches to Sustainable Food" in texts(answer)


async def test_search_pages_by_pressing_next(telegram: Harness) -> None:
    [first] = await telegram.say(ALICE, "/search council")
    assert "page 1 of" in first.text
    [next_label] = [label for label in labels(first) if "Next" in label]
    [second] = await telegram.press(ALICE, first, next_label)
    assert "page 2 of" in second.text
    assert second.text != first.text
    assert telegram.api.open_callbacks == set()  # the press was answered


async def test_a_long_button_action_is_kept_server_side(telegram: Harness) -> None:
    words = "community energy housing cooperative council food wellbeing"
    [first] = await telegram.say(ALICE, f"/search {words}")
    [next_label] = [label for label in labels(first) if "Next" in label]
    data = first.button(next_label)["callback_data"]
    assert len(f"=search {words} --page 2".encode()) > CALLBACK_DATA_BYTES
    assert data.startswith("#") and len(data.encode()) <= CALLBACK_DATA_BYTES
    [second] = await telegram.press(ALICE, first, next_label)
    assert "page 2 of" in second.text


async def test_suppliers_solicitors_finds_anthony_collins(telegram: Harness) -> None:
    answer = await telegram.say(ALICE, "/suppliers solicitors")
    assert "Anthony Collins Solicitors" in texts(answer)


async def test_events_are_listed(telegram: Harness) -> None:
    [answer] = await telegram.say(ALICE, "/events")
    assert "Upcoming events" in answer.text
    assert "Tuesday 1 December 2026" in answer.text  # the Officer Network's next meeting


async def test_groups_then_join_officers_and_accept_the_rules(telegram: Harness) -> None:
    [groups] = await telegram.say(ALICE, "/groups")
    assert "Officer Network" in groups.text and "Join Officer Network" in labels(groups)
    [rules] = await telegram.say(ALICE, "/join officers")
    assert "rules of engagement" in rules.text
    assert labels(rules) == ["I accept", "Cancel"]
    [accepted] = await telegram.press(ALICE, rules, "I accept")
    assert "Which organisation are you from?" in accepted.text
    [role] = await telegram.say(ALICE, "Oldham")  # typed text continues the flow
    assert "your role?" in role.text
    [done] = await telegram.press(ALICE, role, "Officers")
    assert "waiting for a network admin to approve it" in done.text
    [again] = await telegram.say(ALICE, "/groups")
    assert "[waiting for approval]" in again.text
    assert telegram.api.open_callbacks == set()


async def test_unknown_commands_get_a_friendly_answer(telegram: Harness) -> None:
    [unknown] = await telegram.say(ALICE, "/frobnicate")
    assert "I don't know the command /frobnicate" in unknown.text
    assert "/help" in unknown.text
    [typo] = await telegram.say(ALICE, "/serch food")
    assert "Did you mean /search?" in typo.text


async def test_plain_text_in_a_private_chat_is_answered_but_ignored_in_groups(
    telegram: Harness,
) -> None:
    [nudge] = await telegram.say(ALICE, "community energy")
    assert "Did you want to search for “community energy”?" in nudge.text
    [found] = await telegram.press(ALICE, nudge, "Search for it")
    assert "community energy" in found.text
    assert await telegram.say(ALICE, "just chatting in the group", GROUP) == []


async def test_commands_for_another_bot_are_ignored(telegram: Harness) -> None:
    assert await telegram.say(ALICE, "/help@some_other_bot", GROUP) == []
    [answer] = await telegram.say(ALICE, "/help@ccin_test_bot", GROUP)
    assert answer.chat_id == GROUP.id and "What I can do" in answer.text


@pytest.mark.parametrize("kind", ["blocks", "line", "word"])
async def test_a_very_long_reply_is_split_into_valid_messages(telegram: Harness, kind: str) -> None:
    messages = await telegram.say(ALICE, f"/long {kind}")
    expected = long_reply(kind).plain_text
    assert len(expected) > 5000
    assert len(messages) >= 2
    assert all(utf16_length(m.text) <= MAX_TEXT for m in messages)
    # Every piece of data arrives, in order; a split replaces a block break, a space (in a
    # long line) or nothing (inside a word longer than a message).
    if kind == "blocks":
        assert "\n\n".join(m.text for m in messages) == expected
    else:
        head, *rest = messages  # the heading is a block of its own
        joiner = " " if kind == "line" else ""
        assert head.text + "\n\n" + joiner.join(m.text for m in rest) == expected
    # Buttons go under the last message only.
    assert [labels(m) for m in messages[:-1]] == [[]] * (len(messages) - 1)
    assert labels(messages[-1]) == ["Again"]


@pytest.mark.slow  # waits out real timeouts and retries
async def test_a_429_storm_is_waited_out_and_the_message_arrives_once(
    telegram: Harness,
) -> None:
    api = telegram.api
    api.rate_limit(3, retry_after=1)
    started = time.monotonic()
    [answer] = await telegram.say(ALICE, "/help")
    assert "What I can do" in answer.text
    statuses = [c.status for c in api.calls_to("sendMessage")]
    assert statuses == [429, 429, 429, 200]
    assert time.monotonic() - started >= 3  # retry_after was honoured each time
    assert sum("What I can do" in m.text for m in api.sent) == 1


async def test_a_blocked_user_is_logged_and_the_bot_carries_on(
    telegram: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    telegram.api.block(BOB.id)
    with caplog.at_level(logging.INFO, logger="ccin_bridge.bots.telegram"):
        assert await telegram.say(BOB, "/start") == []
        [answer] = await telegram.say(ALICE, "/start")
    assert answer.chat_id == ALICE.id
    forbidden = telegram.api.answers_with(403)
    assert [c.description for c in forbidden] == ["Forbidden: bot was blocked by the user"]
    records = [r for r in caplog.records if r.name.startswith("ccin_bridge.bots.telegram")]
    assert any(
        r.levelno == logging.INFO and "blocked by the user" in r.getMessage() for r in records
    )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_unexpected_api_failure_is_logged_with_its_traceback(
    telegram: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    telegram.api.fail("sendMessage", 500, "Internal Server Error: restart")
    with caplog.at_level(logging.INFO, logger="ccin_bridge.bots.telegram"):
        assert await telegram.say(ALICE, "/help") == []
        [answer] = await telegram.say(ALICE, "/help")
    assert "What I can do" in answer.text
    [error] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert error.name == "ccin_bridge.bots.telegram.adapter" and error.exc_info is not None


async def test_mydata_in_a_group_goes_to_the_dm_as_a_document(telegram: Harness) -> None:
    await telegram.say(ALICE, "/start")  # Alice has a private chat with the bot
    sent = await telegram.say(ALICE, "/mydata", GROUP)
    in_group = [m for m in sent if m.chat_id == GROUP.id]
    in_dm = [m for m in sent if m.chat_id == ALICE.id]
    assert [m.text for m in in_group] == ["Alice, I have sent that to you in a private chat."]
    assert "What we hold about you" in texts(in_dm)
    [document] = [m.document for m in in_dm if m.document is not None]
    assert document.filename == "my-ccin-data.json"
    export = json.loads(document.content)
    assert export["person"]["display_name"] == "Alice Example"
    assert {"platform": "telegram", "user_id": str(ALICE.id)}.items() <= (
        export["identities"][0].items()
    )


async def test_mydata_in_a_group_asks_to_start_a_private_chat_first(telegram: Harness) -> None:
    [notice] = await telegram.say(CAROL, "/mydata", GROUP)
    assert notice.chat_id == GROUP.id
    assert "please /start me in a private chat first" in notice.text.casefold()
    assert notice.text.startswith("Carol <Council> & Co,")  # escaped on the way, shown as is
    assert '<a href="https://t.me/ccin_test_bot">' in notice.html
    assert not [m for m in telegram.api.sent if m.document is not None]
    assert [c.description for c in telegram.api.answers_with(403)] == [
        "Forbidden: bot can't initiate conversation with a user"
    ]


async def test_a_rejected_token_is_a_configuration_error(
    fake_api: FakeTelegramAPI, tg_bridge: Bridge
) -> None:
    bot = TelegramBot(tg_bridge, token="999:WRONG", base_url=fake_api.base_url)
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN was rejected"):
        await bot.start()
    assert [(c.method, c.status) for c in fake_api.calls] == [("getMe", 401)]


async def _met(
    api: FakeTelegramAPI, bridge: Bridge, users: tuple[TgUser, ...], admins: tuple[TgUser, ...]
) -> None:
    """These people have used the bot (their private chats exist); `admins` by the store's
    flag, as `ccin-bridge admin grant` sets it."""
    async with bridge.db.session() as session:
        for user in users:
            await people.touch(
                session,
                platform="telegram",
                external_id=str(user.id),
                display_name=user.first_name,
                username=user.username,
            )
        for user in admins:
            await people.set_admin(
                session, platform="telegram", external_id=str(user.id), is_admin=True
            )
    for user in users:
        api.add_chat(user.private_chat)


async def test_admins_get_their_own_command_list_in_their_private_chat(
    fake_api: FakeTelegramAPI, tg_bridge: Bridge
) -> None:
    # Dana is an admin by config, Alice by the store's flag, Carol is not one; all have
    # used the bot, so their private chats exist.
    await _met(fake_api, tg_bridge, (ALICE, CAROL, DANA), admins=(ALICE,))
    bot = TelegramBot(tg_bridge, token=TOKEN, base_url=fake_api.base_url, poll_timeout=1)
    await bot.start()
    await bot.stop()
    everyone = {c["command"] for c in fake_api.commands["all_private_chats"]}
    admin_only = {c.name for c in tg_bridge.visible_commands(is_admin=True)} - everyone
    assert {"pending", "approve", "stats"} <= admin_only
    assert set(fake_api.commands) == {
        "all_private_chats",
        "all_group_chats",
        f"chat:{ALICE.id}",
        f"chat:{DANA.id}",
    }
    for admin in (ALICE, DANA):
        menu = {c["command"] for c in fake_api.commands[f"chat:{admin.id}"]}
        assert menu == everyone | admin_only


async def test_admin_command_lists_follow_grants_and_revokes_while_running(
    fake_api: FakeTelegramAPI, tg_bridge: Bridge
) -> None:
    await _met(fake_api, tg_bridge, (ALICE, CAROL), admins=(ALICE,))
    bot = TelegramBot(
        tg_bridge,
        token=TOKEN,
        base_url=fake_api.base_url,
        poll_timeout=1,
        menu_refresh_seconds=0.1,
    )
    await bot.start()
    try:
        assert f"chat:{ALICE.id}" in fake_api.commands
        assert f"chat:{CAROL.id}" not in fake_api.commands
        # `ccin-bridge admin grant` / `revoke` from another process: only the store changes.
        async with tg_bridge.db.session() as session:
            await people.set_admin(
                session, platform="telegram", external_id=str(CAROL.id), is_admin=True
            )
            await people.set_admin(
                session, platform="telegram", external_id=str(ALICE.id), is_admin=False
            )
        await fake_api.wait_for(
            lambda: (
                f"chat:{ALICE.id}" not in fake_api.commands
                and f"chat:{CAROL.id}" in fake_api.commands
            ),
            within=10,
        )
    finally:
        await bot.stop()
    assert {c["command"] for c in fake_api.commands[f"chat:{CAROL.id}"]} >= {"pending", "stats"}
    assert ("deleteMyCommands", 200) in [(c.method, c.status) for c in fake_api.calls]
