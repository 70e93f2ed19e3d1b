"""A local Bot Connector service, on 127.0.0.1: what the Teams adapter talks to in tests.

It serves what the real one does for a bot: the OpenID metadata and its signing keys (a test
RSA key; `token()` signs the Bot Connector's JWTs with it, as the service does on each request
it sends the bot), a client-credentials token endpoint, and the conversations API (replies,
sends). Every activity the bot sends is recorded, and each Adaptive Card in it checked as
Teams would take it: a card it would refuse is answered 400 and kept in `rejected`. Failures
can be scripted (`fail_next`): a 429 storm with Retry-After, a 5xx, a 403 from a person who
removed the app (error code ConversationBlockedByUser) or another 403; and the signing keys
can be made unreachable (`keys_down`), as in an outage.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://api.botframework.com"
CARD = "application/vnd.microsoft.card.adaptive"
MAX_MESSAGE_BYTES = 28 * 1024  # Teams refuses a larger activity


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Sent:
    conversation_id: str
    reply_to: str | None
    activity: dict[str, Any]

    @property
    def cards(self) -> list[dict[str, Any]]:
        return [
            a["content"]
            for a in self.activity.get("attachments") or []
            if a.get("contentType") == CARD
        ]


@dataclass
class Rejected:
    conversation_id: str
    why: str
    activity: dict[str, Any]


@dataclass
class FakeConnector:
    app_id: str = "11111111-2222-3333-4444-555555555555"
    app_password: str = "test-password"
    key: rsa.RSAPrivateKey = field(default_factory=new_key)
    key_id: str = "test-key-1"
    sent: list[Sent] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    tokens_issued: list[str] = field(default_factory=list)
    unauthorised: int = 0  # sends without a token this fake issued
    keys_down: bool = False  # the signing keys' endpoint answers 503
    _failures: list[tuple[int, dict[str, str], str | None]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._openid)
        app.router.add_get("/v1/.well-known/keys", self._keys)
        app.router.add_post("/botframework.com/oauth2/v2.0/token", self._token)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def openid_url(self) -> str:
        return self.url + "/v1/.well-known/openidconfiguration"

    @property
    def service_url(self) -> str:
        return self.url + "/"

    def fail_next(
        self,
        status: int,
        times: int = 1,
        retry_after: str | None = None,
        code: str | None = None,
    ) -> None:
        """The next sends fail with this status and the Bot Connector's error `code`."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self._failures.extend([(status, headers, code)] * times)

    # --- the JWTs the service signs -------------------------------------------------------

    def token(
        self,
        *,
        key: rsa.RSAPrivateKey | None = None,
        audience: str | None = None,
        issuer: str = ISSUER,
        expires_in: float = 3600,
        service_url: str | None = None,
        key_id: str | None = None,
        without: tuple[str, ...] = (),
    ) -> str:
        """A token as the service signs it; `without` leaves those claims out."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience or self.app_id,
            "iat": now - 10,
            "nbf": now - 10,
            "exp": now + int(expires_in),
            "serviceurl": service_url or self.service_url,
        }
        for name in without:
            claims.pop(name)
        return jwt.encode(
            claims, key or self.key, algorithm="RS256", headers={"kid": key_id or self.key_id}
        )

    # --- endpoints --------------------------------------------------------------------------

    async def _openid(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": ISSUER,
                "authorization_endpoint": self.url + "/v1/.well-known/authorize",
                "jwks_uri": self.url + "/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, _request: web.Request) -> web.Response:
        if self.keys_down:
            return web.json_response({"error": "unavailable"}, status=503)
        public: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid=self.key_id, use="sig", alg="RS256", endorsements=["msteams"])
        return web.json_response({"keys": [public]})

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_id") != self.app_id
            or form.get("client_secret") != self.app_password
        ):
            return web.json_response({"error": "invalid_client"}, status=401)
        token = secrets.token_urlsafe(24)
        self.tokens_issued.append(token)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3600, "access_token": token}
        )

    async def _send(self, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if given not in self.tokens_issued:
            self.unauthorised += 1
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        cid = request.match_info["cid"]
        body = await request.read()
        activity: dict[str, Any] = json.loads(body)
        if self._failures:
            status, headers, code = self._failures.pop(0)
            return web.json_response(
                {"error": {"code": code or ("Throttled" if status == 429 else "Failed")}},
                status=status,
                headers=headers,
            )
        why = card_problem(activity, len(body))
        if why is not None:
            self.rejected.append(Rejected(cid, why, activity))
            return web.json_response({"error": {"code": "BadArgument", "message": why}}, status=400)
        self.sent.append(Sent(cid, request.match_info.get("aid"), activity))
        return web.json_response({"id": uuid.uuid4().hex})

    # --- what tests read ----------------------------------------------------------------------

    def texts(self, conversation_id: str | None = None) -> list[str]:
        """The text of every card sent, in order (the fallback text of each card)."""
        return [
            card.get("fallbackText", "")
            for sent in self.sent
            if conversation_id is None or sent.conversation_id == conversation_id
            for card in sent.cards
        ]

    def buttons(self) -> list[tuple[str, dict[str, Any]]]:
        """Every Action.Submit of the cards sent: its title and data."""
        return [
            (action["title"], action["data"])
            for sent in self.sent
            for card in sent.cards
            for element in card["body"]
            if element["type"] == "ActionSet"
            for action in element["actions"]
            if action["type"] == "Action.Submit"
        ]


# --- the Adaptive Card check --------------------------------------------------------------------

_COMMON = {"type", "id", "spacing", "separator", "isVisible", "horizontalAlignment", "height"}
_TEXT_RUN = {
    "type": {"TextRun"},
    "weight": {"Default", "Lighter", "Bolder"},
    "size": {"Small", "Default", "Medium", "Large", "ExtraLarge"},
    "color": {"Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"},
    "fontType": {"Default", "Monospace"},
}
_STYLES = {"default", "positive", "destructive"}


def card_problem(activity: dict[str, Any], size: int) -> str | None:
    """Why Teams would refuse this activity's cards, or None."""
    if size > MAX_MESSAGE_BYTES:
        return f"message of {size} bytes exceeds {MAX_MESSAGE_BYTES}"
    for attachment in activity.get("attachments") or []:
        if attachment.get("contentType") != CARD:
            return f"unexpected attachment {attachment.get('contentType')!r}"
        why = _card(attachment.get("content"))
        if why is not None:
            return why
    return None


def _card(card: Any) -> str | None:
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        return "not an AdaptiveCard"
    if card.get("version") not in ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5"):
        return f"unsupported version {card.get('version')!r}"
    allowed = {"type", "version", "body", "actions", "$schema", "fallbackText", "msteams"}
    if set(card) - allowed:
        return f"unknown card properties {sorted(set(card) - allowed)}"
    body = card.get("body")
    if not isinstance(body, list) or not body:
        return "a card needs a body"
    ids: set[str] = set()
    for element in body:
        why = _element(element, ids)
        if why is not None:
            return why
    return None


def _element(element: Any, ids: set[str]) -> str | None:
    if not isinstance(element, dict):
        return "an element is not an object"
    kind = element.get("type")
    if kind == "RichTextBlock":
        if set(element) - (_COMMON | {"inlines"}):
            return f"unknown RichTextBlock properties {sorted(set(element) - _COMMON)}"
        inlines = element.get("inlines")
        if not isinstance(inlines, list) or not inlines:
            return "a RichTextBlock needs inlines"
        for run in inlines:
            why = _text_run(run)
            if why is not None:
                return why
        return None
    if kind == "TextBlock":
        if not isinstance(element.get("text"), str) or not element["text"]:
            return "a TextBlock needs text"
        return None
    if kind == "Input.Text":
        known = _COMMON | {"placeholder", "maxLength", "isMultiline", "label", "value"}
        if set(element) - known or not isinstance(element.get("id"), str):
            return "a bad Input.Text"
        if element["id"] in ids:
            return f"duplicate input id {element['id']!r}"
        ids.add(element["id"])
        return None
    if kind == "ActionSet":
        actions = element.get("actions")
        if not isinstance(actions, list) or not actions:
            return "an ActionSet needs actions"
        for action in actions:
            why = _action(action)
            if why is not None:
                return why
        return None
    return f"unknown element type {kind!r}"


def _text_run(run: Any) -> str | None:
    if not isinstance(run, dict) or run.get("type") != "TextRun":
        return "an inline that is not a TextRun"
    if not isinstance(run.get("text"), str):
        return "a TextRun needs text"
    for key, value in run.items():
        if key in _TEXT_RUN:
            if value not in _TEXT_RUN[key]:
                return f"bad TextRun {key} {value!r}"
        elif key in ("italic", "strikethrough", "highlight", "underline", "isSubtle"):
            if not isinstance(value, bool):
                return f"TextRun {key} must be true or false"
        elif key == "selectAction":
            if not isinstance(value, dict) or value.get("type") != "Action.OpenUrl":
                return "a TextRun's selectAction must open a URL"
            if urlsplit(str(value.get("url"))).scheme not in ("http", "https"):
                return "a link that is not http(s)"
        elif key != "text":
            return f"unknown TextRun property {key!r}"
    return None


def _action(action: Any) -> str | None:
    if not isinstance(action, dict):
        return "an action is not an object"
    if action.get("type") != "Action.Submit":
        return f"unexpected action {action.get('type')!r}"
    if set(action) - {"type", "title", "data", "style", "id"}:
        return "unknown Action.Submit properties"
    if not isinstance(action.get("title"), str) or not action["title"]:
        return "an Action.Submit needs a title"
    if action.get("style", "default") not in _STYLES:
        return f"bad action style {action.get('style')!r}"
    return None


class FakeTokenProvider:
    """The bot's side of the client-credentials grant, against the fake's token endpoint.

    Stands in for the SDK's MSAL provider in tests only: MSAL takes no authority but an
    https one it has checked with Microsoft's instance discovery, which no test may reach.
    """

    def __init__(self, token_url: str, client_id: str, client_secret: str) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.calls = 0

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        self.calls += 1
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": " ".join(scopes),
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.token_url, data=form) as answer,
        ):
            answer.raise_for_status()
            token: str = (await answer.json())["access_token"]
            return token


def invoke_problem(fake: FakeConnector, body: dict[str, Any]) -> None:
    """Check a message extension's answer as Teams would, recording a refusal in `rejected`."""
    result = body.get("composeExtension") or {}
    for attachment in result.get("attachments") or []:
        activity = {"attachments": [{k: v for k, v in attachment.items() if k != "preview"}]}
        why = card_problem(activity, len(json.dumps(activity).encode()))
        preview = attachment.get("preview") or {}
        if why is None and preview.get("contentType") != "application/vnd.microsoft.card.thumbnail":
            why = "a result without a thumbnail preview"
        if why is not None:
            fake.rejected.append(Rejected("composeExtension", why, attachment))
