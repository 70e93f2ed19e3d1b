"""Posts to the adapter what Slack would: slash commands, button presses and events, signed.

The signature is computed here from the spec (HMAC-SHA256 of `v0:{ts}:{body}`), not with the
Slack SDK, so the test does not trust the code it is testing.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from ccin_bridge.bots.slack.adapter import SlackAdapter
from tests.fakes.slack_api import BOT_USER_ID, TEAM_ID, Call, FakeSlack

SIGNING_SECRET = "e7c1a9b0d2f34c5e8a6b7c8d9e0f1a2b"
APP_ID = "A0CCIN"


@dataclass(frozen=True)
class Person:
    id: str
    handle: str


ALICE = Person("UALICE", "alice")
BOB = Person("UBOB", "bob")
GENERAL = ("C0GENERAL", "general")
ALICE_DM = ("DALICE", "directmessage")


@dataclass(frozen=True)
class Answer:
    status: int
    body: str


def sign(body: str, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackSender:
    def __init__(self, session: aiohttp.ClientSession, adapter: SlackAdapter, fake: FakeSlack):
        self.session = session
        self.adapter = adapter
        self.fake = fake
        self._keys = (f"r{n}" for n in itertools.count(1))
        self._events = (f"Ev{n:08d}" for n in itertools.count(1))

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """POST a body to /slack/events, signed correctly unless told otherwise."""
        ts = int(time.time()) if timestamp is None else timestamp
        sent = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(body, ts) if signature is None else signature,
            **(headers or {}),
        }
        async with self.session.post(self.adapter.url, data=body.encode(), headers=sent) as resp:
            return Answer(resp.status, await resp.text())

    # --- slash commands -----------------------------------------------------------------------

    def command_body(
        self, text: str, key: str, user: Person = ALICE, channel: tuple[str, str] = GENERAL
    ) -> str:
        return urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": TEAM_ID,
                "team_domain": "ccin-test",
                "channel_id": channel[0],
                "channel_name": channel[1],
                "user_id": user.id,
                "user_name": user.handle,
                "command": "/ccin",
                "text": text,
                "api_app_id": APP_ID,
                "is_enterprise_install": "false",
                "response_url": self.fake.response_url(key),
                "trigger_id": "13345224609.738474920.8088930838d88f008e0",
            }
        )

    async def ask(
        self, text: str, user: Person = ALICE, channel: tuple[str, str] = GENERAL
    ) -> list[Call]:
        """`/ccin <text>` as Slack sends it; the messages posted to its response_url."""
        key = next(self._keys)
        answer = await self.post(
            self.command_body(text, key, user, channel), "application/x-www-form-urlencoded"
        )
        assert answer.status == 200, answer
        return await self._answers(key)

    async def _answers(self, key: str) -> list[Call]:
        await self.fake.wait_for(lambda: bool(self.fake.responses(key)))
        await self.adapter.drain()
        return self.fake.responses(key)

    # --- buttons ------------------------------------------------------------------------------

    async def press(
        self,
        message: Call,
        label: str,
        user: Person = ALICE,
        channel: tuple[str, str] = GENERAL,
    ) -> list[Call]:
        """Press the button labelled `label` in a message we were sent."""
        button = find_button(message, label)
        key = next(self._keys)
        payload = {
            "type": "block_actions",
            "user": {"id": user.id, "username": user.handle, "name": user.handle},
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "container": {"type": "message", "channel_id": channel[0], "is_ephemeral": True},
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
            "team": {"id": TEAM_ID, "domain": "ccin-test"},
            "channel": {"id": channel[0], "name": channel[1]},
            "response_url": self.fake.response_url(key),
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "block_id": "b1",
                    "text": button["text"],
                    "value": button["value"],
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)})
        answer = await self.post(body, "application/x-www-form-urlencoded")
        assert answer.status == 200, answer
        return await self._answers(key)

    async def command(
        self, text: str, user: Person = ALICE, channel: tuple[str, str] = GENERAL
    ) -> str:
        """`/ccin <text>` without waiting for an answer; the response_url key it carries."""
        key = next(self._keys)
        answer = await self.post(
            self.command_body(text, key, user, channel), "application/x-www-form-urlencoded"
        )
        assert answer.status == 200, answer
        return key

    # --- App Home, shortcuts and modals ---------------------------------------------------------

    async def interactive(self, payload: dict[str, Any]) -> Answer:
        base = {
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "team": {"id": TEAM_ID, "domain": "ccin-test"},
            "trigger_id": f"trigger-{next(self._keys)}",
        }
        body = urlencode({"payload": json.dumps(base | payload)})
        return await self.post(body, "application/x-www-form-urlencoded")

    async def shortcut(self, callback_id: str, user: Person = ALICE) -> Answer:
        """A global shortcut from Slack's shortcut menu."""
        return await self.interactive(
            {"type": "shortcut", "callback_id": callback_id, "user": _user(user)}
        )

    async def press_in_view(
        self,
        view: dict[str, Any],
        label: str,
        user: Person = ALICE,
        values: dict[str, Any] | None = None,
    ) -> Answer:
        """Press a button in a Home tab or a modal (`view` with its `id`, as the fake holds it)."""
        button = find_view_button(view, label)
        return await self.interactive(
            {
                "type": "block_actions",
                "user": _user(user),
                "container": {"type": "view", "view_id": view["id"]},
                "view": _view_payload(view, values),
                "actions": [
                    {
                        "type": "button",
                        "action_id": button["action_id"],
                        "block_id": "b1",
                        "text": button["text"],
                        "value": button.get("value", ""),
                        "action_ts": f"{time.time():.6f}",
                    }
                ],
            }
        )

    async def submit(
        self, view: dict[str, Any], values: dict[str, Any] | None = None, user: Person = ALICE
    ) -> Answer:
        """Press a modal's submit button with `values` as {block_id: {action_id: state}}."""
        return await self.interactive(
            {
                "type": "view_submission",
                "user": _user(user),
                "view": _view_payload(view, values),
            }
        )

    async def close(self, view: dict[str, Any], user: Person = ALICE) -> Answer:
        """Press a modal's close button (Slack tells the app only with `notify_on_close`)."""
        return await self.interactive(
            {
                "type": "view_closed",
                "user": _user(user),
                "view": _view_payload(view, None),
                "is_cleared": False,
            }
        )

    # --- events -------------------------------------------------------------------------------

    def event_body(self, event: dict[str, Any], event_id: str) -> str:
        return json.dumps(
            {
                "token": "legacy-verification-token",
                "team_id": TEAM_ID,
                "api_app_id": APP_ID,
                "event": event,
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
            }
        )

    async def event(
        self, event: dict[str, Any], event_id: str | None = None, retry: int = 0
    ) -> Answer:
        """Deliver an Events API callback (a retry carries X-Slack-Retry-Num)."""
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(
            self.event_body(event, event_id or next(self._events)),
            "application/json",
            headers=headers if retry else None,
        )


def mention(text: str, user: Person = ALICE, channel: str = GENERAL[0]) -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": user.id,
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": f"{time.time():.6f}",
        "channel": channel,
        "event_ts": f"{time.time():.6f}",
    }


def direct_message(text: str, user: Person = ALICE, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": "im",
        "user": user.id,
        "text": text,
        "ts": f"{time.time():.6f}",
        "channel": "D" + user.id.removeprefix("U"),
        "event_ts": f"{time.time():.6f}",
        **extra,
    }


def buttons(message: Call) -> list[dict[str, Any]]:
    return [
        element
        for block in message.args.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def find_button(message: Call, label: str) -> dict[str, Any]:
    found = [b for b in buttons(message) if b["text"]["text"] == label]
    assert found, f"no button {label!r} in {[b['text']['text'] for b in buttons(message)]}"
    return found[0]


def _user(user: Person) -> dict[str, str]:
    return {"id": user.id, "username": user.handle, "name": user.handle, "team_id": TEAM_ID}


def _view_payload(view: dict[str, Any], values: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": view["id"],
        "team_id": TEAM_ID,
        "type": view["type"],
        "callback_id": view.get("callback_id", ""),
        "private_metadata": view.get("private_metadata", ""),
        "blocks": view["blocks"],
        "state": {"values": values or {}},
        "hash": "h1",
    }


def view_buttons(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in view["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def find_view_button(view: dict[str, Any], label: str) -> dict[str, Any]:
    found = [b for b in view_buttons(view) if b["text"]["text"] == label]
    assert found, f"no button {label!r} in {[b['text']['text'] for b in view_buttons(view)]}"
    return found[0]


def view_text(view: dict[str, Any]) -> str:
    texts = []
    for block in view["blocks"]:
        if isinstance(block.get("text"), dict):
            texts.append(block["text"]["text"])
        for element in block.get("elements") or []:
            if isinstance(element.get("text"), dict):
                texts.append(element["text"]["text"])
            elif isinstance(element.get("text"), str):
                texts.append(element["text"])
    return "\n".join(texts)
