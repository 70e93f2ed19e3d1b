"""Lone surrogates in what Telegram sends (names, callback data) never cause a traceback.

The fake's JSON escapes them (`"\\ud800"`) as any JSON encoder may, and PTB decodes them into
strings no database or HTTP body can encode (issue 11, item 7b).
"""

from __future__ import annotations

import logging

import pytest

from tests.bots.telegram.conftest import GROUP, Harness
from tests.fakes.telegram_api import TgUser

ZOE = TgUser(1009, "Zo\ud800e", "Ex\udfffample", username="zo\ud800e")


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_a_name_and_a_handle_with_lone_surrogates(
    telegram: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        (answer,) = await telegram.say(ZOE, "/start")
    assert answer.text.startswith("Hello Zoe Example, welcome")
    assert tracebacks(caplog) == []


async def test_callback_data_with_a_lone_surrogate_is_answered(
    telegram: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    (greeting,) = await telegram.say(ZOE, "/start")  # a message with buttons to press under
    with caplog.at_level(logging.INFO):
        before = len(telegram.api.sent)
        await telegram.settle(await telegram.api.press_data(ZOE, greeting, "#tok\ud800"))
    assert [m.text for m in telegram.api.sent[before:]] == [
        "That button has expired. Please send the command again."
    ]
    assert tracebacks(caplog) == []


async def test_a_private_answer_asked_for_in_a_group_names_them_without_a_traceback(
    telegram: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    telegram.api.add_group(GROUP, {ZOE.id: "member"})
    await telegram.say(ZOE, "/start")  # so the bot may write to her privately
    with caplog.at_level(logging.INFO):
        sent = await telegram.say(ZOE, "/mydata@ccin_test_bot", GROUP)
    notice = [m.text for m in sent if m.chat_id == GROUP.id]
    assert notice == ["Zoe, I have sent that to you in a private chat."]
    assert tracebacks(caplog) == []
