"""The Teams adapter: the Microsoft 365 Agents SDK's CloudAdapter at `/api/messages` on the
bridge's HTTP listener, translating Bot Connector activities to the bridge's events.

In: messages in a personal chat (commands typed bare, as the app manifest lists them) and in
channels or group chats when they @mention the bot; Adaptive Card buttons (Action.Submit,
whose data carries the core's payload); the app installed or removed. Out: Adaptive Cards with
a text fallback (bots/teams/render.py), sent by the SDK's connector client to the activity's
serviceUrl; pushes as proactive messages to the conversation reference kept for each person
(`Bridge.remember_address`) when they last wrote in their personal chat.

Every request is verified before anything reads it (bots/teams/auth.py): no valid Bot
Connector token, 401 and nothing done. The Bot Connector also carries Web Chat and Direct
Line, whose clients choose their own `from.id`: only activities of the `msteams` channel, of
the configured tenant, are acted on, and a person is known by the Entra object id Teams
vouches for, never by a client-chosen id.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.web_exceptions import NotAppKeyWarning
from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    Attachment,
    ConversationReference,
)
from microsoft_agents.authentication.msal import MsalAuth
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.core.authorization import AgentAuthConfiguration
from pydantic import ValidationError

from ccin_bridge.bots.teams import auth, search_extension
from ccin_bridge.bots.teams.platform import MESSAGES_PATH, PLATFORM
from ccin_bridge.bots.teams.render import (
    CARD_CONTENT_TYPE,
    INPUT_KEY,
    PAYLOAD_KEY,
    TYPED_PREFIX,
    TeamsMessage,
    render_reply,
)
from ccin_bridge.bots.teams.search_extension import QUERY_INVOKE
from ccin_bridge.handlers.config import ConfigError, Secrets
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.events import (
    HERE,
    BlockedByUser,
    ButtonPressed,
    Event,
    InlineQuery,
    Outgoing,
    TypedLine,
)
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.replies import Reply, ReplyBuilder
from ccin_bridge.scheduler.outbound import Blocked, MaybeSent, RetryLater, Undeliverable

log = logging.getLogger(__name__)

MAX_PAYLOAD = 1024  # an Action.Submit's data: long command lines go behind a token
_MENTION = re.compile(r"<at>[^<]*</at>", re.IGNORECASE)
PERSONAL = "personal"
TEAMS_CHANNEL = "msteams"  # the Bot Connector's other channels (webchat, directline) are not Teams
TEAMS_USER_PREFIX = "29:"  # an id the Bot Connector issues for a Teams account
# Tenant settings under which the bot answers any tenant (a multi-tenant registration).
ANY_TENANT = frozenset({"common", "organizations"})
# The Bot Connector's codes for a 403 meaning the person removed the app or blocked the bot;
# any other 403 (the bot disabled by an admin, a missing permission) is not theirs.
GONE_CODES = frozenset({"ConversationBlockedByUser", "BotNotInConversationRoster"})
# Said in a channel instead of an answer for the asker alone, when the bot cannot write to
# them yet (they have never opened its personal chat).
OPEN_CHAT = "I have an answer for you alone: open a chat with me and ask there."


class TeamsAdapter:
    """Serves Bot Connector activities at `MESSAGES_PATH` on the bridge's HTTP listener."""

    platform = PLATFORM.name

    @classmethod
    def from_secrets(cls, bridge: Bridge, secrets: Secrets) -> TeamsAdapter:
        """The adapter the registry starts when TEAMS_APP_ID is set."""
        if not bridge.settings.http.enabled:
            raise ConfigError(
                f"http: Teams sends its activities to {MESSAGES_PATH} on the bridge's HTTP "
                "listener; set http.enabled to true"
            )
        return cls(
            bridge,
            auth.configuration(secrets),
            openid_metadata_url=secrets.get("TEAMS_OPENID_METADATA_URL"),
        )

    def __init__(
        self,
        bridge: Bridge,
        config: AgentAuthConfiguration,
        *,
        provider: auth.ProviderFactory = MsalAuth,
        openid_metadata_url: str | None = None,
    ) -> None:
        self.bridge = bridge
        self.config = config
        self.app_id = str(config.CLIENT_ID)
        self._openid_metadata_url = openid_metadata_url
        self._validator = auth.validator_class()
        self.cloud = CloudAdapter(
            connection_manager=auth.connections(config, provider),
            host_validator=auth.host_validator(openid_metadata_url),
        )
        self.cloud.on_turn_error = self._on_turn_error

    # --- life cycle: the listener serves the route; nothing to connect -----------------------

    async def start(self) -> None:
        if self._openid_metadata_url:
            log.warning(
                "Teams: TEAMS_OPENID_METADATA_URL is set: tokens are checked against the keys "
                "of %s, not the Bot Connector's (for tests; unset it in production)",
                self._openid_metadata_url,
            )
            jwks_uri = await auth.jwks_uri_of(self._openid_metadata_url)
            self._validator = auth.validator_class(jwks_uri)

    async def stop_receiving(self, grace: float = 0) -> None: ...

    async def stop(self, grace: float = 0) -> None: ...

    def add_routes(self, app: web.Application) -> None:
        """Called by the bridge's HTTP listener (bridge/health.py)."""
        app.router.add_post(MESSAGES_PATH, self.handle)

    # --- in ----------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            claims = await auth.verify(
                request.headers.get("Authorization"), self.config, self._validator
            )
        except auth.KeysUnavailable:
            # Not the sender's fault: the Bot Connector retries a 503.
            return web.json_response({"error": "cannot check tokens now"}, status=503)
        if claims is None:
            log.warning("Teams: a request without a valid Bot Connector token was refused")
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            body: Any = await request.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
            return web.json_response({"error": "not JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "not an activity"}, status=400)
        if not auth.same_service(claims, body.get("serviceUrl")):
            log.warning("Teams: an activity for another service than its token's was refused")
            return web.json_response({"error": "unauthorized"}, status=401)
        if body.get("channelId") != TEAMS_CHANNEL:
            log.warning("Teams: an activity of another channel than msteams was refused")
            return web.json_response({"error": "unauthorized"}, status=401)
        if not self._our_tenant(body):
            log.warning("Teams: an activity from another tenant was refused")
            return web.json_response({"error": "another tenant"}, status=403)
        with warnings.catch_warnings():  # the SDK reads the claims under this string key
            warnings.simplefilter("ignore", NotAppKeyWarning)
            request["claims_identity"] = claims
        try:
            answer = await self.cloud.process(request, self)
        except ValidationError:
            return web.json_response({"error": "not an activity"}, status=400)
        return answer if answer is not None else web.Response(status=202)

    def _our_tenant(self, body: dict[str, Any]) -> bool:
        """Whether the activity comes from the tenant the bot is registered in (any, when
        TEAMS_TENANT_ID is `common` or `organizations`)."""
        configured = str(self.config.TENANT_ID or "").casefold()
        if configured in ANY_TENANT:
            return True
        channel_data, conversation = body.get("channelData"), body.get("conversation")
        tenant = channel_data.get("tenant") if isinstance(channel_data, dict) else None
        found = tenant.get("id") if isinstance(tenant, dict) else None
        if not found and isinstance(conversation, dict):
            found = conversation.get("tenantId")
        return isinstance(found, str) and found.casefold() == configured != ""

    async def on_turn(self, context: TurnContext) -> None:
        """The SDK's Agent protocol: one verified activity."""
        activity = context.activity
        if activity.type == ActivityTypes.message:
            await self._on_message(context)
        elif activity.type == ActivityTypes.installation_update:
            await self._on_installation(context)
        elif activity.type == ActivityTypes.invoke and activity.name == QUERY_INVOKE:
            await self._on_search(context)

    async def _on_search(self, context: TurnContext) -> None:
        """The search message extension: a page of cards to insert in a message."""
        user = self._user(context.activity)
        if user is None:
            await context.send_activity(search_extension.answer(None))
            return
        words, offset = search_extension.query_of(context.activity.value)
        outcome = await self.bridge.dispatch(InlineQuery(user, words, offset))
        await context.send_activity(search_extension.answer(outcome.inline))

    async def _on_message(self, context: TurnContext) -> None:
        activity = context.activity
        user, chat = self._user(activity), self._chat(activity)
        if user is None or chat is None:
            return
        value = activity.value if isinstance(activity.value, dict) else {}
        payload = value.get(PAYLOAD_KEY)
        event: Event
        if isinstance(payload, str):
            # Teams sends every input of the card; the button names the one that goes with it.
            input_id = value.get(INPUT_KEY)
            typed = value.get(input_id) if isinstance(input_id, str) else None
            if not isinstance(input_id, str) or not input_id.startswith(TYPED_PREFIX):
                typed = None
            event = ButtonPressed(user, chat, payload, typed if isinstance(typed, str) else "")
        else:
            text = activity.text or ""
            addressed = _mentions(activity, self.app_id)
            if not chat.is_private and not addressed:
                return  # channel talk not meant for the bot
            event = TypedLine(user, chat, _MENTION.sub(" ", text).strip(), addressed=addressed)
        # Kept before the answer (a failed first message keeps the address too); a person the
        # bridge meets now only exists once the event is handled.
        known = chat.is_private and await self._remember(user, activity)
        try:
            outcome = await self.bridge.dispatch(event)
        finally:
            if chat.is_private and not known:
                await self._remember(user, activity)
        await self._carry_out(context, outcome.replies, user=user, chat=chat)

    async def _on_installation(self, context: TurnContext) -> None:
        activity = context.activity
        user = self._user(activity)
        if user is None or (
            activity.conversation is None or activity.conversation.conversation_type != PERSONAL
        ):
            return
        if activity.action in ("remove", "remove-upgrade"):
            await self.bridge.dispatch(BlockedByUser(user, blocked=True))
        elif activity.action in ("add", "add-upgrade"):
            await self.bridge.dispatch(BlockedByUser(user, blocked=False))
            await self._remember(user, activity)

    async def _remember(self, user: UserRef, activity: Activity) -> bool:
        reference = activity.get_conversation_reference()
        address = reference.model_dump(by_alias=True, exclude_none=True, mode="json")
        return await self.bridge.remember_address(user, address)

    def _user(self, activity: Activity) -> UserRef | None:
        """The sender by the Entra object id Teams gives (else their 29: Bot Connector id),
        never by an id of another shape, which a Web Chat client could have chosen."""
        sender = activity.from_property
        if sender is None:
            return None
        if sender.aad_object_id:
            user_id = sender.aad_object_id
        elif sender.id and sender.id.startswith(TEAMS_USER_PREFIX):
            user_id = sender.id
        else:
            return None
        return UserRef(
            PLATFORM.name, PLATFORM.canonical_user_id(user_id), display_name=sender.name or ""
        )

    def _chat(self, activity: Activity) -> ChatRef | None:
        conversation = activity.conversation
        if conversation is None or not conversation.id:
            return None
        private = conversation.conversation_type == PERSONAL  # none given: not private
        return ChatRef(PLATFORM.name, conversation.id, is_private=private)

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        # The SDK's default tells the person the exception's text; ours logs it only (the
        # core has already answered for failures it contained).
        log.error("Teams activity failed (%s)", context.activity.type, exc_info=error)

    # --- out ---------------------------------------------------------------------------------

    async def _carry_out(
        self, context: TurnContext, replies: Sequence[Outgoing], *, user: UserRef, chat: ChatRef
    ) -> None:
        for outgoing in replies:
            if outgoing.to == HERE or chat.is_private:
                for activity in await self._activities(outgoing.reply):
                    await context.send_activity(activity)
                continue
            # For the asker alone: Teams has no message one member of a channel sees, so it
            # goes to their personal chat, if the bot can write there.
            try:
                await self.send(chat=ChatRef(PLATFORM.name, user.user_id), reply=outgoing.reply)
            except Undeliverable:
                note = ReplyBuilder().para(OPEN_CHAT).build()
                for activity in await self._activities(note):
                    await context.send_activity(activity)

    async def _activities(self, reply: Reply) -> list[Activity]:
        payloads = {
            button.action: await self.bridge.encode_action(button.action, MAX_PAYLOAD)
            for row in reply.buttons
            for button in row
        }
        return [_activity(message) for message in render_reply(reply, payloads)]

    async def send(self, *, chat: ChatRef, reply: Reply) -> None:
        """A push to a person, through the conversation reference kept for them (the outbox's
        `Outbound`); the Bot Connector's refusals become the outbox's verdicts."""
        if chat.platform != PLATFORM.name:
            raise ValueError(f"the Teams adapter cannot send to a {chat.platform} chat")
        if not chat.is_private:
            raise Undeliverable("pushes to Teams channels are not supported yet")
        address = await self.bridge.address_of(UserRef(PLATFORM.name, chat.chat_id))
        if address is None:
            raise Undeliverable("never opened the bot's chat in Teams: no conversation yet")
        reference = ConversationReference.model_validate(address)
        activities = await self._activities(reply)

        failures: list[Exception] = []

        async def push(context: TurnContext) -> None:
            try:
                for activity in activities:
                    await context.send_activity(activity)
            except Exception as exc:  # the SDK's pipeline would hand it to on_turn_error
                failures.append(exc)

        await self._continue(reference, push)
        if failures:
            await self._continue_failed(failures[0])

    async def _continue(
        self, reference: ConversationReference, callback: Callable[[TurnContext], Awaitable[None]]
    ) -> None:
        try:
            await self.cloud.continue_conversation(
                self.app_id, reference.get_continuation_activity(), callback
            )
        except Exception as exc:
            await self._continue_failed(exc)

    async def _continue_failed(self, exc: Exception) -> None:
        if isinstance(exc, aiohttp.ClientResponseError):
            raise _verdict(exc) from exc
        if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
            raise MaybeSent("connection lost waiting for the answer") from exc
        raise exc


def _activity(message: TeamsMessage) -> Activity:
    return Activity(
        type=ActivityTypes.message,
        summary=message.text[:200],
        attachments=[Attachment(content_type=CARD_CONTENT_TYPE, content=message.card)],
    )


def _mentions(activity: Activity, app_id: str) -> bool:
    for entity in activity.entities or []:
        if entity.type != "mention":
            continue
        mentioned: Any = getattr(entity, "mentioned", None)
        if mentioned is None:
            mentioned = (entity.model_extra or {}).get("mentioned")
        found = (
            mentioned.get("id") if isinstance(mentioned, dict) else getattr(mentioned, "id", None)
        )
        recipient = activity.recipient.id if activity.recipient else None
        if found and found in (recipient, f"28:{app_id}"):
            return True
    return False


def _verdict(exc: aiohttp.ClientResponseError) -> Exception:
    """The outbox's reading of a Bot Connector refusal."""
    status = exc.status
    if status == 429 or status >= 500:
        seconds = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        return RetryLater(seconds, "rate limited" if status == 429 else f"HTTP {status}")
    if status == 403:
        code = _error_code(exc.message)
        if code in GONE_CODES:
            # The person removed the app or blocked the bot: like a blocked Telegram user.
            return Blocked(f"HTTP 403 {code}: the bot may no longer write to this person")
        refused = f"HTTP 403 ({code or 'no code'}): the Bot Connector refused the message"
        return Undeliverable(refused)
    if status == 404:
        return Undeliverable("the conversation is gone")
    return Undeliverable(f"HTTP {status}: the Bot Connector refused the message")


def _error_code(body: str) -> str | None:
    """The Bot Connector's `error.code` in a refusal's body (the SDK puts the body in the
    exception's message)."""
    try:
        parsed: Any = json.loads(body)
    except (ValueError, RecursionError):
        return None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0
