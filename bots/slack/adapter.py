"""The Slack adapter: Bolt in HTTP mode, translating Slack's requests to the bridge and back.

In: `/ccin <command> [args]`, button presses, @-mentions and direct messages. Out: Block Kit
replies along the response_url (slash commands and buttons, seen only by the asker), or in the
channel or DM the message came from; a private reply asked for in a channel goes as an ephemeral
message and its file to the person's DM. It is also the scheduler's `Outbound` for Slack.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from bots.slack import inbound
from bots.slack.client import build_client
from bots.slack.delivery import (
    Channel,
    Destination,
    DirectMessage,
    Ephemeral,
    ResponseUrl,
    open_dm,
    upload,
)
from bots.slack.lru import Lru
from bots.slack.render import ACTION_PREFIX, MAX_BUTTON_VALUE, render_reply
from bots.slack.server import EVENTS_PATH, SlackHttpServer
from handlers.core import Bridge, RequestFactory
from handlers.errors import GENERIC_ERROR
from handlers.identity import ChatRef, UserRef
from handlers.replies import Attachment, Reply, ReplyBuilder
from handlers.requests import Request

log = logging.getLogger(__name__)

COMMAND = "/ccin"
COMMAND_PREFIX = f"{COMMAND} "  # how /help spells commands in Slack
RECENT_EVENTS = 2048  # Slack retries within minutes; this many ids covers a busy workspace
KNOWN_PEOPLE = 4096
STOP_TIMEOUT = 10.0


class SlackAdapter:
    """Serves Slack's requests on `http://host:port/path`; sends replies with the bot token."""

    platform = "slack"

    def __init__(
        self,
        bridge: Bridge,
        *,
        bot_token: str,
        signing_secret: str,
        api_url: str | None = None,
        host: str = "0.0.0.0",  # Slack must reach it; TLS comes from a proxy in front
        port: int = 3000,
        path: str = EVENTS_PATH,
    ) -> None:
        self.bridge = bridge
        self.client = build_client(bot_token, api_url)
        self.app = AsyncApp(client=self.client, signing_secret=signing_secret, name="ccin-bridge")
        self.server = SlackHttpServer(self.app, host=host, port=port, path=path)
        self._recent_events: Lru[str, bool] = Lru(RECENT_EVENTS)
        self._people: Lru[str, tuple[str, str | None]] = Lru(KNOWN_PEOPLE)
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._register()

    # --- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        await self.server.start()
        log.info("Slack adapter listening on %s", self.server.url)

    @property
    def url(self) -> str:
        return self.server.url

    async def stop(self) -> None:
        """Stop taking requests, then let answers already under way finish."""
        await self.server.stop()
        await self.drain()

    async def drain(self) -> None:
        """Wait for the work Bolt runs after acknowledging a request (replies still being sent)."""
        await asyncio.sleep(0)  # a listener Bolt has just scheduled registers when it starts
        while self._in_flight:
            _, pending = await asyncio.wait(set(self._in_flight), timeout=STOP_TIMEOUT)
            if pending:
                log.warning("%d Slack replies unfinished at shutdown", len(pending))
                return

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    # --- Outbound ----------------------------------------------------------------------------

    async def send(self, *, chat: ChatRef, reply: Reply) -> None:
        """Post a reply to a channel or DM (scheduled messages)."""
        if chat.platform != "slack":
            raise ValueError(f"the Slack adapter cannot send to a {chat.platform} chat")
        if reply.private and not chat.is_private:
            raise ValueError("a private reply cannot be sent to a shared channel")
        await self._post(reply, Channel(self.client, chat.chat_id))
        if reply.attachment is not None:
            await upload(self.client, chat.chat_id, reply.attachment)

    # --- listeners ---------------------------------------------------------------------------

    def _register(self) -> None:
        app = self.app
        app.middleware(self._skip_retried_events)
        app.command(COMMAND)(self._on_command)
        app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(self._on_button)
        app.event("app_mention")(self._on_mention)
        app.event("message")(self._on_message)
        # Subscribed in the manifest for the welcome and App Home features to come; acknowledged
        # here so Slack does not retry them.
        app.event("member_joined_channel")(self._not_yet)
        app.event("app_home_opened")(self._not_yet)
        app.error(self._on_error)

    async def _skip_retried_events(
        self, body: dict[str, Any], next_: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        # Slack retries an event it thinks we missed; the first delivery is already handled.
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if isinstance(event_id, str) and not self._recent_events.first_time(event_id, True):
            log.info("ignoring a repeat of Slack event %s", event_id)
            return BoltResponse(status=200, body="")
        await next_()
        return None

    async def _on_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        self._track()
        await ack()  # within Slack's 3 seconds; the answer follows on the response_url
        user = inbound.user_ref(command["user_id"], command.get("user_name"))
        chat = inbound.chat_ref(command["channel_id"], command.get("channel_name"))
        line = inbound.slash_line(command.get("text") or "")
        replies = await self.bridge.handle_text(_requests(user, chat), line)
        await self._deliver(replies, user=user, chat=chat, to=ResponseUrl(respond))

    async def _on_button(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        self._track()
        await ack()
        actions = body.get("actions") or [{}]
        who = body.get("user") or {}
        user = inbound.user_ref(who["id"], who.get("username") or who.get("name"))
        channel = body.get("channel") or {}
        channel_id = channel.get("id") or (body.get("container") or {}).get("channel_id") or ""
        chat = inbound.chat_ref(channel_id, channel.get("name"))
        replies = await self.bridge.handle_button(
            _requests(user, chat), str(actions[0].get("value") or "")
        )
        to = ResponseUrl(respond) if respond.response_url else None
        await self._deliver(replies, user=user, chat=chat, to=to)

    async def _on_mention(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        self._track()
        await self._on_typed(event, context.bot_user_id)

    async def _on_message(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        self._track()
        # Only what a person typed in their DM with the bot: no edits, joins or other bots.
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        await self._on_typed(event, context.bot_user_id)

    async def _on_typed(self, event: dict[str, Any], bot_user_id: str | None) -> None:
        user_id, channel = event.get("user"), event.get("channel")
        if not isinstance(user_id, str) or not isinstance(channel, str):
            return
        user = await self._person(user_id)
        chat = inbound.chat_ref(channel)
        line = inbound.message_line(event.get("text") or "", bot_user_id, self.bridge.commands)
        replies = await self.bridge.handle_text(_requests(user, chat), line)
        await self._deliver(replies, user=user, chat=chat, thread_ts=event.get("thread_ts"))

    async def _not_yet(self, event: dict[str, Any]) -> None:
        log.debug("Slack %s event acknowledged, not handled yet", event.get("type"))

    async def _on_error(
        self, error: Exception, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        # The details go to the log only; the person hears that something went wrong.
        log.error("Slack request failed (%s)", _describe(body), exc_info=error)
        event = body.get("event") or {}
        destination: Destination | None = None
        if respond.response_url:
            destination = ResponseUrl(respond)
        elif isinstance(event.get("channel"), str) and isinstance(event.get("user"), str):
            user = inbound.user_ref(event["user"], None)
            chat = inbound.chat_ref(event["channel"])
            destination = self._destination(True, user, chat, event.get("thread_ts"))
        if destination is None:
            return
        try:
            await self._post(ReplyBuilder().para(GENERIC_ERROR).build(), destination)
        except Exception:
            log.exception("could not tell the person that their Slack request failed")

    # --- replies -----------------------------------------------------------------------------

    async def _deliver(
        self,
        replies: list[Reply],
        *,
        user: UserRef,
        chat: ChatRef,
        to: Destination | None = None,
        thread_ts: str | None = None,
    ) -> None:
        for reply in replies:
            destination = to or self._destination(reply.private, user, chat, thread_ts)
            await self._post(reply, destination)
            if reply.attachment is not None:
                # Where the text went, if that is the bot's DM or the file is not private;
                # otherwise to the person's DM, saying so where they asked.
                in_place = to is None and (chat.is_private or not reply.private)
                await self._send_file(reply.attachment, user, chat, destination, in_place)

    def _destination(
        self, private: bool, user: UserRef, chat: ChatRef, thread_ts: str | None
    ) -> Destination:
        if chat.chat_id and (chat.is_private or not private):
            return Channel(self.client, chat.chat_id, thread_ts)
        if chat.chat_id:
            return Ephemeral(self.client, chat.chat_id, user.user_id, thread_ts)
        return DirectMessage(self.client, user.user_id)

    async def _post(self, reply: Reply, destination: Destination) -> None:
        payloads = {
            button.action: await self.bridge.encode_action(button.action, MAX_BUTTON_VALUE)
            for row in reply.buttons
            for button in row
        }
        for message in render_reply(reply, payloads):
            await destination.post(message)

    async def _send_file(
        self,
        attachment: Attachment,
        user: UserRef,
        chat: ChatRef,
        told: Destination,
        in_place: bool,
    ) -> None:
        if in_place:
            await upload(self.client, chat.chat_id, attachment)
            return
        await upload(self.client, await open_dm(self.client, user.user_id), attachment)
        note = f"I have sent you {attachment.filename} in our direct messages."
        await self._post(ReplyBuilder().para(note).build(), told)

    async def _person(self, user_id: str) -> UserRef:
        """Events carry only a user id; users.info gives the names we show back (cached)."""
        known = self._people.get(user_id)
        if known is None:
            try:
                info = (await self.client.users_info(user=user_id)).get("user") or {}
            except SlackApiError as exc:
                log.warning("users.info for %s failed: %s", user_id, exc.response.get("error"))
                info = {}
            profile = info.get("profile") or {}
            display = profile.get("display_name") or profile.get("real_name") or ""
            known = (str(display or info.get("real_name") or ""), info.get("name"))
            if info:
                self._people.put(user_id, known)
        return inbound.user_ref(user_id, known[1], known[0])


def _requests(user: UserRef, chat: ChatRef) -> RequestFactory:
    def request(command: str, args: str) -> Request:
        return Request(user, chat, command, args, prefix=COMMAND_PREFIX)

    return request


def _describe(body: dict[str, Any]) -> str:
    """What kind of request failed, without the personal text it carried."""
    kind = str(body.get("type") or ("slash_command" if "command" in body else "unknown"))
    event = body.get("event")
    if isinstance(event, dict):
        kind += f"/{event.get('type')}"
    elif "command" in body:
        kind += f" {body.get('command')}"
    return kind
