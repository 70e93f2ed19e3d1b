"""The fake Bot API itself: if it accepted what Telegram refuses, the adapter tests would lie."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter

from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI, TgChat, TgUser

USER = TgUser(7, "Uma")


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake:
        fake.add_chat(USER.private_chat)
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, api: FakeTelegramAPI, method: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{api.base_url}{TOKEN}/{method}", **kwargs) as response:
        return response.status, await response.json()


async def test_form_and_json_bodies_are_both_understood(
    api: FakeTelegramAPI, http: aiohttp.ClientSession
) -> None:
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "=go"}]]}
    form = {"chat_id": "7", "text": "<b>hi</b>", "parse_mode": "HTML"}
    status, body = await post(
        http, api, "sendMessage", data={**form, "reply_markup": json.dumps(markup)}
    )
    assert status == 200 and body["ok"] is True
    assert body["result"]["text"] == "hi" and body["result"]["chat"]["id"] == 7
    status, body = await post(http, api, "sendMessage", json={"chat_id": 7, "text": "plain"})
    assert status == 200 and body["result"]["text"] == "plain"
    assert [m.reply_markup for m in api.sent] == [markup, None]


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"text": "x" * 4097}, "Bad Request: message is too long"),
        ({"text": "🙂" * 2049}, "Bad Request: message is too long"),  # 4098 UTF-16 units
        ({"text": "<b>" + "x" * 4096 + "</b>", "parse_mode": "HTML"}, None),
        ({"text": "   "}, "Bad Request: message text is empty"),
        ({"text": "a < b", "parse_mode": "HTML"}, "Bad Request: can't parse entities"),
        ({"text": "<i>x", "parse_mode": "HTML"}, "Bad Request: can't parse entities"),
        (
            {"text": "x", "reply_markup": {"keyboard": []}},
            "Bad Request: can't parse reply keyboard",
        ),
        (
            {
                "text": "x",
                "reply_markup": {"inline_keyboard": [[{"text": "B", "callback_data": "d" * 65}]]},
            },
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {
                "text": "x",
                "reply_markup": {"inline_keyboard": [[{"text": "B", "callback_data": "d"}] * 101]},
            },
            "Bad Request: reply markup is too long",
        ),
        ({"text": "x", "chat_id": -5}, "Bad Request: chat not found"),
    ],
)
async def test_send_message_is_validated_like_telegram(
    api: FakeTelegramAPI,
    http: aiohttp.ClientSession,
    params: dict[str, Any],
    description: str | None,
) -> None:
    status, body = await post(http, api, "sendMessage", json={"chat_id": 7, **params})
    if description is None:
        assert status == 200, body
        return
    assert status == 400 == body["error_code"]
    assert body["ok"] is False and body["description"].startswith(description)


async def test_unknown_token_method_and_blocked_user(
    api: FakeTelegramAPI, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{api.base_url}1:WRONG/getMe") as response:
        assert response.status == 401
        assert await response.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
    status, _ = await post(http, api, "noSuchMethod")
    assert status == 404
    api.block(USER.id)
    status, body = await post(http, api, "sendMessage", json={"chat_id": 7, "text": "hi"})
    assert (status, body["description"]) == (403, "Forbidden: bot was blocked by the user")
    status, body = await post(http, api, "sendMessage", json={"chat_id": 99, "text": "hi"})
    assert (status, body["description"]) == (
        403,
        "Forbidden: bot can't initiate conversation with a user",
    )


async def test_rate_limit_answers_429_with_retry_after_then_recovers(
    api: FakeTelegramAPI, http: aiohttp.ClientSession
) -> None:
    api.rate_limit(2, retry_after=5)
    for _ in range(2):
        status, body = await post(http, api, "sendMessage", json={"chat_id": 7, "text": "x"})
        assert status == 429 == body["error_code"]
        assert body["parameters"] == {"retry_after": 5}
    status, _ = await post(http, api, "sendMessage", json={"chat_id": 7, "text": "x"})
    assert status == 200
    assert [c.status for c in api.calls] == [429, 429, 200]


async def test_get_updates_long_polls_and_forgets_confirmed_updates(
    api: FakeTelegramAPI, http: aiohttp.ClientSession
) -> None:
    started = time.monotonic()
    status, body = await post(http, api, "getUpdates", data={"timeout": "1"})
    assert status == 200 and body["result"] == []
    assert time.monotonic() - started >= 0.9  # it waited for the timeout

    poll = asyncio.create_task(post(http, api, "getUpdates", data={"timeout": "5"}))
    await asyncio.sleep(0.05)
    first = await api.push_message(USER, "/start")
    _, body = await poll  # woken by the update, long before the timeout
    assert [u["update_id"] for u in body["result"]] == [first]
    assert body["result"][0]["message"]["entities"] == [
        {"type": "bot_command", "offset": 0, "length": 6}
    ]
    second = await api.push_message(USER, "hello", TgChat(-1, "group", title="G"))
    _, body = await post(http, api, "getUpdates", data={"offset": str(first + 1)})
    assert [u["update_id"] for u in body["result"]] == [second]
    await api.wait_confirmed(first, within=1)
    _, body = await post(
        http, api, "getUpdates", data={"offset": str(second + 1), "allowed_updates": '["message"]'}
    )
    assert body["result"] == []


async def test_documents_arrive_as_multipart_files(
    api: FakeTelegramAPI, http: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData()
    form.add_field("chat_id", "7")
    form.add_field("document", b'{"a": 1}', filename="a.json", content_type="application/json")
    status, body = await post(http, api, "sendDocument", data=form)
    assert status == 200 and body["result"]["document"]["file_name"] == "a.json"
    [sent] = api.sent
    assert sent.document is not None and sent.document.content == b'{"a": 1}'


async def test_ptb_sees_the_fakes_answers_as_telegrams(
    api: FakeTelegramAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as the adapter does, see adapter.py
    async with Bot(TOKEN, base_url=api.base_url) as bot:
        assert bot.username == "ccin_test_bot"
        with pytest.raises(BadRequest, match='unsupported start tag "blink"'):
            await bot.send_message(7, "<blink>", parse_mode="HTML")
        api.rate_limit(1, retry_after=3)
        with pytest.raises(RetryAfter):
            await bot.send_message(7, "x")
        api.block(USER.id)
        with pytest.raises(Forbidden):
            await bot.send_message(7, "x")
    with pytest.raises(InvalidToken):
        async with Bot("1:WRONG", base_url=api.base_url):
            pass


GROUP_CHAT = TgChat(-100555, "supergroup", title="Exampleton Officers")


def article(result_id: str = "a", text: str = "<b>Card</b>") -> dict[str, Any]:
    return {
        "type": "article",
        "id": result_id,
        "title": "Card",
        "input_message_content": {"message_text": text, "parse_mode": "HTML"},
    }


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"results": [article(str(n)) for n in range(50)]}, None),
        ({"results": [article(str(n)) for n in range(51)]}, "Bad Request: RESULTS_TOO_MUCH"),
        ({"results": [article("x"), article("x")]}, "Bad Request: RESULT_ID_DUPLICATE"),
        ({"results": [article("i" * 65)]}, "Bad Request: RESULT_ID_INVALID"),
        ({"results": [article(text="a < b")]}, "Bad Request: can't parse entities"),
        ({"results": [], "next_offset": "9" * 65}, "Bad Request: NEXT_OFFSET_INVALID"),
        ({"results": [{**article(), "title": " "}]}, "Bad Request: RESULT_TITLE_EMPTY"),
    ],
)
async def test_inline_answers_are_validated_like_telegram(
    api: FakeTelegramAPI,
    http: aiohttp.ClientSession,
    params: dict[str, Any],
    description: str | None,
) -> None:
    query_id = await api.push_inline_query(USER, "food")
    status, body = await post(
        http, api, "answerInlineQuery", json={"inline_query_id": query_id, **params}
    )
    if description is None:
        assert status == 200 and len(api.answer_to(query_id).results) == 50
    else:
        assert status == 400 and body["description"].startswith(description)
        assert api.inline_answers == []
    # A query is answered once; a second answer is refused as Telegram does.
    status, _ = await post(
        http, api, "answerInlineQuery", json={"inline_query_id": query_id, "results": []}
    )
    assert status == (400 if description is None else 200)


async def test_a_webhook_needs_https_and_stops_polling(
    api: FakeTelegramAPI, http: aiohttp.ClientSession
) -> None:
    status, body = await post(http, api, "setWebhook", data={"url": "http://example.org/h"})
    assert status == 400 and "HTTPS" in body["description"]
    status, _ = await post(
        http, api, "setWebhook", data={"url": "https://example.org/h", "secret_token": "a b"}
    )
    assert status == 400
    status, _ = await post(
        http, api, "setWebhook", data={"url": "https://example.org/h", "secret_token": "ok_1-"}
    )
    assert status == 200 and api.webhook is not None
    status, body = await post(http, api, "getUpdates", data={"timeout": "0"})
    assert status == 409 and body["description"].startswith("Conflict:")
    assert (await post(http, api, "deleteWebhook"))[0] == 200
    assert (await post(http, api, "getUpdates", data={"timeout": "0"}))[0] == 200


async def test_group_membership_behaves_like_telegram(
    api: FakeTelegramAPI, http: aiohttp.ClientSession
) -> None:
    member, stranger = TgUser(8, "Mo"), TgUser(9, "Sam")
    api.add_group(GROUP_CHAT, {member.id: "member"})
    async with Bot(TOKEN, base_url=api.base_url) as bot:
        with pytest.raises(BadRequest, match="approval"):
            await bot.create_chat_invite_link(
                GROUP_CHAT.id, member_limit=1, creates_join_request=True
            )
        # Unban without only_if_banned also removes a current member (Telegram's quirk).
        await bot.unban_chat_member(GROUP_CHAT.id, member.id)
        assert api.status_of(GROUP_CHAT.id, member.id) == "left"
        assert (await bot.get_chat_member(GROUP_CHAT.id, member.id)).status == "left"
        # A join request opens a DM window that closes with the decision.
        await api.push_join_request(stranger, GROUP_CHAT)
        await bot.send_message(stranger.id, "About your request")
        await bot.decline_chat_join_request(GROUP_CHAT.id, stranger.id)
        with pytest.raises(Forbidden):
            await bot.send_message(stranger.id, "Too late")
        with pytest.raises(BadRequest, match=r"(?i)hide_requester_missing"):
            await bot.approve_chat_join_request(GROUP_CHAT.id, stranger.id)
        with pytest.raises(BadRequest, match="supergroup and group chats only"):
            await bot.ban_chat_member(USER.id, member.id)


async def test_messages_to_a_held_chat_wait_until_let_through(
    api: FakeTelegramAPI, http: aiohttp.ClientSession
) -> None:
    other = TgUser(8, "Otto")
    api.add_chat(other.private_chat)
    api.hold(USER.id)
    held = asyncio.create_task(post(http, api, "sendMessage", json={"chat_id": 7, "text": "a"}))
    await api.wait_for(lambda: api.waiting == [7])
    status, _ = await post(http, api, "sendMessage", json={"chat_id": 8, "text": "b"})
    assert status == 200 and [m.text for m in api.sent] == ["b"]  # others go by
    assert not held.done()
    api.let_through(USER.id)
    status, _ = await held
    assert status == 200 and [m.text for m in api.sent] == ["b", "a"]
