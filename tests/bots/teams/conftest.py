"""The real Agents SDK CloudAdapter behind the real bridge on SQLite, a fake Bot Connector
service (tests/fakes/teams_connector.py); all on 127.0.0.1.

Each test ends by asserting that the fake refused no card the adapter sent.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from microsoft_agents.hosting.core.authorization import AgentAuthConfiguration

from ccin_bridge.app import App
from ccin_bridge.background import Background
from ccin_bridge.bots.teams import auth
from ccin_bridge.bots.teams.adapter import TeamsAdapter
from ccin_bridge.bots.teams.platform import MESSAGES_PATH
from ccin_bridge.bots.teams.render import INPUT_KEY
from ccin_bridge.handlers.config import Secrets, Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.health import start_listener
from ccin_bridge.store.db import Database
from tests.fakes.teams_connector import FakeConnector, FakeTokenProvider, Sent

TENANT = "99999999-8888-7777-6666-555555555555"


@dataclass(frozen=True)
class Person:
    aad: str  # the Entra object id: the bridge's user id on Teams
    connector_id: str  # the 29:… id the Bot Connector knows them by
    name: str

    @property
    def personal(self) -> str:
        return "a:personal-" + self.connector_id.removeprefix("29:")


ADA = Person("0a0a0a0a-0000-4000-8000-00000000000a", "29:ada-example", "Ada Example")
BEN = Person("0b0b0b0b-0000-4000-8000-00000000000b", "29:ben-sample", "Ben Sample")
CHANNEL = "19:general-channel@thread.tacv2"


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = FakeConnector()
    await fake.start()
    yield fake
    await fake.stop()
    # Whatever the test did, Teams would have taken every card the adapter sent.
    assert [(r.why, r.conversation_id) for r in fake.rejected] == []


def adapter_for(bridge: Bridge, fake: FakeConnector, tenant: str = TENANT) -> TeamsAdapter:
    secrets = Secrets(
        {
            "TEAMS_APP_ID": fake.app_id,
            "TEAMS_APP_PASSWORD": fake.app_password,
            "TEAMS_TENANT_ID": tenant,
            "TEAMS_OPENID_METADATA_URL": fake.openid_url,
        }
    )
    token_url = fake.url + "/botframework.com/oauth2/v2.0/token"

    def provider(config: AgentAuthConfiguration) -> FakeTokenProvider:
        return FakeTokenProvider(token_url, str(config.CLIENT_ID), str(config.CLIENT_SECRET))

    return TeamsAdapter(
        bridge,
        auth.configuration(secrets),
        provider=provider,  # type: ignore[arg-type]
        openid_metadata_url=secrets.get("TEAMS_OPENID_METADATA_URL"),
    )


class Teams:
    """Sends the adapter what the Bot Connector would, signed by the fake's key."""

    def __init__(self, session: aiohttp.ClientSession, url: str, fake: FakeConnector) -> None:
        self.session = session
        self.url = url
        self.fake = fake

    def activity(
        self,
        person: Person = ADA,
        *,
        text: str | None = None,
        value: dict[str, Any] | None = None,
        conversation: str | None = None,
        kind: str = "message",
        **extra: Any,
    ) -> dict[str, Any]:
        in_channel = conversation is not None and conversation.startswith("19:")
        activity: dict[str, Any] = {
            "type": kind,
            "id": uuid.uuid4().hex,
            "serviceUrl": self.fake.service_url,
            "channelId": "msteams",
            "from": {"id": person.connector_id, "name": person.name, "aadObjectId": person.aad},
            "conversation": {
                "id": conversation or person.personal,
                "conversationType": "channel" if in_channel else "personal",
                "tenantId": TENANT,
            },
            "recipient": {"id": "28:" + self.fake.app_id, "name": "CCIN"},
            "channelData": {"tenant": {"id": TENANT}},
            **extra,
        }
        if text is not None:
            activity["text"] = text
        if value is not None:
            activity["value"] = value
        return activity

    async def post(self, activity: dict[str, Any], token: str | None = "") -> int:
        headers = {}
        if token is not None:
            headers["Authorization"] = "Bearer " + (token or self.fake.token())
        async with self.session.post(self.url, json=activity, headers=headers) as answer:
            await answer.read()
            return answer.status

    async def say(self, text: str, person: Person = ADA, **kw: Any) -> list[Card]:
        """Type a line; the cards the bot answered with."""
        before = len(self.fake.sent)
        status = await self.post(self.activity(person, text=text, **kw))
        assert status in (200, 202), status
        return cards_of(self.fake.sent[before:])

    async def press(
        self, card: Card, title: str, person: Person = ADA, typed: str = "", **kw: Any
    ) -> list[Card]:
        """Press the card's button of this title, as Teams sends an Action.Submit."""
        data = dict(card.button(title))
        if typed:
            data[data[INPUT_KEY]] = typed  # what the person typed in the button's own input
        before = len(self.fake.sent)
        status = await self.post(self.activity(person, value=data, **kw))
        assert status in (200, 202), status
        return cards_of(self.fake.sent[before:])


@dataclass(frozen=True)
class Card:
    conversation_id: str
    content: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.content.get("fallbackText", ""))

    def runs(self) -> list[dict[str, Any]]:
        return [
            run
            for element in self.content["body"]
            if element["type"] == "RichTextBlock"
            for run in element["inlines"]
        ]

    def buttons(self) -> list[dict[str, Any]]:
        return [
            action
            for element in self.content["body"]
            if element["type"] == "ActionSet"
            for action in element["actions"]
        ]

    @property
    def labels(self) -> list[str]:
        return [str(b["title"]) for b in self.buttons()]

    def button(self, title: str) -> dict[str, Any]:
        for action in self.buttons():
            if action["title"] == title:
                data: dict[str, Any] = action["data"]
                return data
        raise AssertionError(f"no button {title!r} among {self.labels}")


def cards_of(sent: list[Sent]) -> list[Card]:
    return [Card(s.conversation_id, card) for s in sent for card in s.cards]


@pytest.fixture
def tenant() -> str:
    """The adapter's TEAMS_TENANT_ID (a test parametrizes it to try another)."""
    return TENANT


@pytest.fixture
async def adapter(
    bridge: Bridge, connector: FakeConnector, tenant: str
) -> AsyncIterator[TeamsAdapter]:
    adapter = adapter_for(bridge, connector, tenant)
    await adapter.start()
    yield adapter
    await adapter.stop()


@pytest.fixture
async def teams(
    adapter: TeamsAdapter,
    connector: FakeConnector,
    bridge: Bridge,
    settings: Settings,
    sqlite_db: Database,
    tmp_path: Path,
) -> AsyncIterator[Teams]:
    """The adapter's route on the bridge's own HTTP listener, as `ccin-bridge run` serves it."""
    app = App(settings, Secrets.from_env({}), sqlite_db, bridge, tmp_path)
    background = Background(app, {adapter.platform: adapter})  # the probes' view; not started
    listener = await start_listener(app, background, [adapter], "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listener.port}{MESSAGES_PATH}"
    try:
        async with aiohttp.ClientSession() as session:
            yield Teams(session, url, connector)
    finally:
        await listener.stop()
