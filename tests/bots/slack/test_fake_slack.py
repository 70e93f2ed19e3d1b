"""The fake Slack Web API answers the real slack-sdk client the way Slack does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlack


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    yield fake
    await fake.stop()


def client(fake: FakeSlack, token: str | None = None) -> AsyncWebClient:
    # No retry handlers: the test sees exactly what the fake answered.
    return AsyncWebClient(token=token or fake.token, base_url=fake.api_url, retry_handlers=[])


async def test_tokens_are_checked(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client(fake, "xoxb-wrong").auth_test()
    assert refused.value.response.status_code == 200
    assert refused.value.response["error"] == "invalid_auth"
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.api_url + "auth.test") as resp,
    ):
        assert (resp.status, await resp.json()) == (200, {"ok": False, "error": "not_authed"})
    answer = await client(fake).auth_test()
    assert answer["user_id"] == "UBOT" and answer["bot_id"] == "BBOT"
    assert [c.name for c in fake.calls] == ["auth.test"] * 3


async def test_form_query_and_json_arguments(fake: FakeSlack) -> None:
    fake.add_user("UANN", "ann", "Ann Example")
    web = client(fake)
    opened = await web.conversations_open(users="UANN")  # form body
    assert opened["channel"]["id"] == "DANN"
    info = await web.users_info(user="UANN")  # GET with a query string
    assert info["user"]["profile"]["display_name"] == "Ann Example"
    posted = await web.chat_postMessage(channel="DANN", text="hi")  # JSON body
    updated = await web.chat_update(channel="DANN", ts=posted["ts"], text="hello")
    assert updated["ts"] == posted["ts"]
    with pytest.raises(SlackApiError, match="user_not_found"):
        await web.users_info(user="UNOBODY")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await web.chat_postMessage(channel="#general", text="hi")


async def test_bad_blocks_and_long_text_are_refused_with_details(fake: FakeSlack) -> None:
    web = client(fake)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "a <b> & c"}}]
    with pytest.raises(SlackApiError) as refused:
        await web.chat_postEphemeral(channel="C1X", user="UANN", text="x", blocks=blocks)
    assert refused.value.response["error"] == "invalid_blocks"
    messages = refused.value.response["response_metadata"]["messages"]
    assert any("unescaped '<'" in m for m in messages)
    with pytest.raises(SlackApiError, match="msg_too_long"):
        await web.chat_postMessage(channel="C1X", text="x" * 40_001)
    assert [c.error for c in fake.bad_messages()] == ["invalid_blocks", "msg_too_long"]


async def test_rate_limits_answer_429_with_retry_after(fake: FakeSlack) -> None:
    fake.rate_limit(2)  # any method
    web = client(fake)
    for _ in range(2):
        with pytest.raises(SlackApiError) as limited:
            await web.auth_test()
        assert limited.value.response.status_code == 429
        assert limited.value.response.headers["Retry-After"] == "1"
        assert limited.value.response["error"] == "ratelimited"
    assert (await web.auth_test())["ok"] is True
    assert [c.status for c in fake.calls] == [429, 429, 200]


async def test_files_upload_v2_and_response_urls(fake: FakeSlack) -> None:
    await client(fake).files_upload_v2(
        channel="DANN", filename="data.json", title="data.json", content=b'{"a": 1}'
    )
    assert fake.files == [
        {"channel": "DANN", "title": "data.json", "name": "data.json", "content": b'{"a": 1}'}
    ]
    async with aiohttp.ClientSession() as session:
        async with session.post(fake.response_url("k"), json={"text": "ok &amp; fine"}) as ok:
            assert (ok.status, await ok.text()) == (200, "ok")
        async with session.post(fake.response_url("k"), json={"text": "1 < 2"}) as bad:
            assert bad.status == 400
    assert [c.args["text"] for c in fake.responses("k")] == ["ok &amp; fine"]
