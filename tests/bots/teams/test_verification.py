"""What the adapter refuses before acting: activities of other Bot Connector channels (Web
Chat, Direct Line: their clients choose `from.id`), of other tenants, tokens that never
expire, bodies nested too deep; and what it answers when the signing keys cannot be read."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from microsoft_agents.hosting.core.authorization import ClaimsIdentity

from ccin_bridge.bots.teams import auth
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.store import addresses
from ccin_bridge.store.db import Database
from tests.bots.teams.conftest import ADA, TENANT, Teams
from tests.bots.teams.test_commands import row_counts
from tests.bots.teams.test_pushes import identity
from tests.fakes.teams_connector import FakeConnector

OTHER_TENANT = "12121212-3434-5656-7878-909090909090"


async def address(db: Database) -> dict[str, Any] | None:
    async with db.read() as session:
        return await addresses.address_of(session, "teams", ADA.aad)


async def test_a_web_chat_user_claiming_adas_entra_id_changes_nothing(
    teams: Teams, connector: FakeConnector, sqlite_db: Database
) -> None:
    await teams.say("start")
    kept, before, sent = await address(sqlite_db), await row_counts(sqlite_db), len(connector.sent)
    # A genuine Bot Connector token; the Web Chat client chose from.id, and its conversation
    # has no conversationType.
    webchat = {
        "type": "message",
        "id": "forged-1",
        "serviceUrl": connector.service_url,
        "channelId": "webchat",
        "from": {"id": ADA.aad, "name": "Ada Example"},
        "conversation": {"id": "webchat-conversation-1"},
        "recipient": {"id": "28:" + connector.app_id},
        "text": "join housing --accept",
    }
    assert await teams.post(webchat) == 401
    # In Teams: an id Teams did not vouch for is nobody, and no type is not a personal chat.
    as_teams = teams.activity(text="join housing --accept", conversation="a:another-chat")
    as_teams["from"] = {"id": ADA.aad, "name": "Ada Example"}  # no aadObjectId
    assert await teams.post(as_teams) in (200, 202)
    untyped = teams.activity(text="join housing --accept", conversation="a:another-chat")
    del untyped["conversation"]["conversationType"]
    assert await teams.post(untyped) in (200, 202)
    removed = teams.activity(kind="installationUpdate", action="remove")
    del removed["conversation"]["conversationType"]  # not said to be her personal scope
    assert await teams.post(removed) in (200, 202)
    assert (await identity(sqlite_db, ADA)).active
    assert await address(sqlite_db) == kept
    assert await row_counts(sqlite_db) == before
    assert len(connector.sent) == sent
    # The same line from Ada in Teams does act: the checks above can fail.
    (joined,) = await teams.say("join housing --accept")
    assert "Which organisation are you from?" in joined.text


async def test_an_activity_from_another_tenant_is_refused(
    teams: Teams, connector: FakeConnector, sqlite_db: Database
) -> None:
    before = await row_counts(sqlite_db)
    foreign = teams.activity(text="start", channelData={"tenant": {"id": OTHER_TENANT}})
    foreign["conversation"]["tenantId"] = OTHER_TENANT
    assert await teams.post(foreign) == 403
    # No channelData: the conversation's tenant is read instead.
    bare = teams.activity(text="start")
    del bare["channelData"]
    bare["conversation"]["tenantId"] = OTHER_TENANT
    assert await teams.post(bare) == 403
    nameless = teams.activity(text="start")
    del nameless["channelData"], nameless["conversation"]["tenantId"]
    assert await teams.post(nameless) == 403
    assert await row_counts(sqlite_db) == before and connector.sent == []
    ours = teams.activity(text="start")  # Ada's tenant, read from the conversation
    del ours["channelData"]
    assert ours["conversation"]["tenantId"] == TENANT
    assert await teams.post(ours) in (200, 202)
    assert await row_counts(sqlite_db) != before


@pytest.mark.parametrize("tenant", ["common", "organizations"])
async def test_a_multi_tenant_bot_answers_any_tenant(teams: Teams, tenant: str) -> None:
    foreign = teams.activity(text="help", channelData={"tenant": {"id": OTHER_TENANT}})
    assert await teams.post(foreign) in (200, 202)
    assert teams.fake.sent


async def test_a_token_without_expiry_is_refused(
    teams: Teams, connector: FakeConnector, sqlite_db: Database
) -> None:
    before = await row_counts(sqlite_db)
    activity = teams.activity(text="start")
    assert await teams.post(activity, token=connector.token(without=("exp",))) == 401
    assert await row_counts(sqlite_db) == before and connector.sent == []


async def test_json_nested_too_deep_is_a_400_and_the_next_is_answered(
    teams: Teams, connector: FakeConnector
) -> None:
    headers = {"Authorization": "Bearer " + connector.token(), "Content-Type": "application/json"}
    deep = b"[" * 100_000 + b"]" * 100_000
    async with teams.session.post(teams.url, data=deep, headers=headers) as answer:
        assert answer.status == 400
    assert connector.sent == []
    assert await teams.say("help")


async def test_a_key_server_outage_is_a_503_not_a_refusal(
    teams: Teams, connector: FakeConnector, sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    before = await row_counts(sqlite_db)
    connector.keys_down = True
    with caplog.at_level(logging.WARNING, logger="ccin_bridge.bots.teams.auth"):
        assert await teams.post(teams.activity(text="start")) == 503
    assert any("signing keys" in r.getMessage() for r in caplog.records)
    assert await row_counts(sqlite_db) == before and connector.sent == []
    connector.keys_down = False  # back: the Bot Connector's retry is answered
    assert await teams.say("start")


async def test_the_address_is_kept_when_handling_the_message_fails(
    teams: Teams, bridge: Bridge, sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await teams.say("start")

    async def broken(*_args: Any, **_kw: Any) -> Any:
        raise RuntimeError("the handler failed")

    monkeypatch.setattr(bridge, "dispatch", broken)
    # Ada reinstalled the app: her personal chat has a new id, which the next push needs.
    moved = teams.activity(text="help", conversation="a:personal-new")
    await teams.post(moved)
    kept = await address(sqlite_db)
    assert kept is not None and kept["conversation"]["id"] == "a:personal-new"


def test_the_default_host_check_is_on_and_takes_microsoft_hosts_only() -> None:
    check = auth.host_validator(None)
    assert check.enabled
    assert not check.is_allowed("http://smba.trafficmanager.net/amer/")
    assert not check.is_allowed("https://evil.example/")
    assert check.is_allowed("https://smba.trafficmanager.net/amer/")


def test_same_service_compares_scheme_host_and_port() -> None:
    claims = ClaimsIdentity({"serviceurl": "https://smba.example/amer/"})
    assert auth.same_service(claims, "https://SMBA.example:443/emea/")
    assert not auth.same_service(claims, "http://smba.example/amer/")
    assert not auth.same_service(claims, "https://smba.example:8443/amer/")
    assert not auth.same_service(claims, "https://other.example/amer/")
    assert not auth.same_service(claims, "https://smba.example:99999/")
