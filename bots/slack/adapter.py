"""The Slack adapter: Bolt over HTTP or Socket Mode, translating Slack's requests to the bridge.

In: `/ccin <command> [args]`, button presses, @-mentions, direct messages, the App Home tab,
admin modals (bots/slack/home.py, bots/slack/modals.py) and people joining bound channels. Out:
Block Kit replies along the response_url (slash commands and buttons, seen only by the asker;
beyond Slack's five posts the rest goes to the person's DM), or in the channel or DM the message
came from; a private reply asked for in a channel goes as an ephemeral message and its file to
the person's DM. It is also the scheduler's `Outbound` and `ChatAdmin` for Slack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError

from ccin_bridge.bots.slack import inbound, intake, relay
from ccin_bridge.bots.slack.client import build_client
from ccin_bridge.bots.slack.delivery import (
    Channel,
    Destination,
    DirectMessage,
    Ephemeral,
    FollowUps,
    ResponseUrl,
    open_dm,
    upload,
)
from ccin_bridge.bots.slack.errors import error_summary, transport_verdict, verdict
from ccin_bridge.bots.slack.home import Home
from ccin_bridge.bots.slack.lru import Lru
from ccin_bridge.bots.slack.membership import SlackChannels
from ccin_bridge.bots.slack.modals import Modals, review_block
from ccin_bridge.bots.slack.platform import COMMAND, PLATFORM, SlackHttp
from ccin_bridge.bots.slack.relay import PER_CHANNEL, SlackRelayer
from ccin_bridge.bots.slack.render import ACTION_PREFIX, MAX_BLOCKS, MAX_BUTTON_VALUE, render_reply
from ccin_bridge.bots.slack.server import EVENTS_PATH, SlackHttpServer
from ccin_bridge.bots.slack.socket_mode import SocketConnection
from ccin_bridge.handlers import relay as group_relay
from ccin_bridge.handlers.config import ConfigError, Secrets
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.errors import GENERIC_ERROR
from ccin_bridge.handlers.events import (
    ASKER_PRIVATE,
    HERE,
    BotAdded,
    BotRemoved,
    ButtonPressed,
    ChatPost,
    ChatPostDeleted,
    MemberJoined,
    MemberLeft,
    Outgoing,
    TypedLine,
)
from ccin_bridge.handlers.events import Destination as CoreDestination
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.inbox import InboundItem, Inbox, Unreadable
from ccin_bridge.handlers.relay_order import Copy
from ccin_bridge.handlers.relay_text import to_blocks
from ccin_bridge.handlers.replies import Attachment, Reply, ReplyBuilder

log = logging.getLogger(__name__)

KNOWN_PEOPLE = 4096
FORM = "application/x-www-form-urlencoded"
STOP_TIMEOUT = 10.0


class SlackAdapter:
    """Serves Slack's requests on `http://host:port/path`, or over a Socket Mode connection
    when an app-level token is given; sends replies with the bot token."""

    platform = PLATFORM.name

    @classmethod
    def from_secrets(cls, bridge: Bridge, secrets: Secrets) -> SlackAdapter:
        """The adapter the registry starts when SLACK_BOT_TOKEN is set."""
        token = secrets.get("SLACK_BOT_TOKEN")
        signing_secret = secrets.get("SLACK_SIGNING_SECRET")
        app_token = secrets.get("SLACK_APP_TOKEN")
        if not token:
            raise ConfigError("SLACK_BOT_TOKEN is not set")
        if not signing_secret and not app_token:
            raise ConfigError(
                "SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN, to verify Slack's requests"
                " (or set SLACK_APP_TOKEN for Socket Mode)"
            )
        listen = bridge.settings.platform(PLATFORM.name)
        if not isinstance(listen, SlackHttp):  # the registry entry's model reads `slack_http`
            raise TypeError("the Slack settings were not read by the Slack platform")
        return cls(
            bridge,
            bot_token=token,
            signing_secret=signing_secret,
            api_url=secrets.get("SLACK_API_URL"),
            host=listen.host,
            port=listen.port,
            app_token=app_token,  # Socket Mode when set
        )

    def __init__(
        self,
        bridge: Bridge,
        *,
        bot_token: str,
        signing_secret: str | None,
        api_url: str | None = None,
        host: str = "0.0.0.0",  # Slack must reach it; TLS comes from a proxy in front
        port: int = 3000,
        path: str = EVENTS_PATH,
        app_token: str | None = None,
        relay_per_second: float = PER_CHANNEL,
    ) -> None:
        if not app_token and not signing_secret:
            # Over HTTP the signature is all that tells Slack's requests from forgeries.
            raise ValueError("a signing secret is required unless Socket Mode is used")
        self.bridge = bridge
        self.client = build_client(bot_token, api_url)
        # Two Bolt apps with the same listeners. `app` answers what Slack wants answered in the
        # response itself (a form's submission): it acknowledges first and works on in a task.
        # `replay` handles what the journal hands back, already acknowledged: there every
        # listener runs to its end inside the dispatch, so an update is done only when it is.
        # Neither checks signatures: our server verifies HTTP requests before either sees one
        # (and a replayed request is past its five minutes); Socket Mode is not signed.
        self.app = self._bolt(signing_secret, process_before_response=False)
        self.replay = self._bolt(signing_secret, process_before_response=True)
        # Events, commands and button presses are stored before Slack hears back.
        self.inbox = Inbox(bridge.db, PLATFORM.name, self._process)
        self.server = SlackHttpServer(
            self.app,
            self.inbox,
            signing_secret=signing_secret or "unused in Socket Mode",
            host=host,
            port=port,
            path=path,
        )
        self.app_token = app_token
        self.socket: SocketConnection | None = None
        self.channels = SlackChannels(self.client)
        self.relayer = SlackRelayer(self.client, self._copy_message, relay_per_second)
        self.home = Home(self)
        self.modals = Modals(self)
        self._people: Lru[str, tuple[str, str | None]] = Lru(KNOWN_PEOPLE)
        self._in_flight: set[asyncio.Task[Any]] = set()
        for app in (self.app, self.replay):
            self._register(app)

    # --- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        await self.inbox.start()  # what an earlier run stored but did not finish
        try:
            await self._connect()
        except BaseException:
            await self.inbox.stop(grace=0)
            raise

    async def _connect(self) -> None:
        if self.app_token:
            self.socket = SocketConnection(self.app, self.app_token, self.client, self.inbox)
            await self.socket.start()
            log.info("Slack adapter connected in Socket Mode")
            return
        try:
            await self.server.start()
        except OSError as exc:  # the port is taken, or the host is not this machine's
            where = f"{self.server.host}:{self.server.port}"
            raise ConfigError(
                f"slack_http: cannot listen on {where} ({exc.strerror or exc})"
            ) from None
        log.info("Slack adapter listening on %s", self.server.url)

    @property
    def url(self) -> str:
        return self.server.url

    async def stop_receiving(self, grace: float = 5.0) -> None:
        """Stop taking requests, give answers under way up to `grace` seconds, and leave what
        is stored but unfinished for the next start."""
        socket, self.socket = self.socket, None
        if socket is not None:
            await socket.stop()
        await self.server.stop()
        await self.inbox.stop(grace)
        if self._in_flight:  # a form's work, after its acknowledgement
            await asyncio.wait(set(self._in_flight), timeout=1.0)

    async def stop(self, grace: float = 5.0) -> None:
        await self.stop_receiving(grace)  # the Web API client needs no closing

    async def drain(self) -> None:
        """Wait for the work Bolt runs after acknowledging a request (replies still being sent)
        and for everything stored to be handled."""
        await asyncio.sleep(0)  # a listener Bolt has just scheduled registers when it starts
        await self.inbox.idle()
        while self._in_flight:
            _, pending = await asyncio.wait(set(self._in_flight), timeout=STOP_TIMEOUT)
            if pending:
                log.warning("%d Slack replies unfinished at shutdown", len(pending))
                return

    def track(self) -> None:
        """Count the current listener as work under way, so `drain` waits for it."""
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _process(self, item: InboundItem) -> None:
        """Handle one stored request through Bolt, as if it had just arrived."""
        stored = item.payload.get("body")
        if isinstance(stored, str):
            headers: dict[str, str | Sequence[str]] = {"content-type": _content_type(stored)}
            request = AsyncBoltRequest(body=stored, headers=headers)
        elif isinstance(stored, dict):
            request = AsyncBoltRequest(body=stored, mode=intake.SOCKET)
        else:
            raise Unreadable("no request body stored")
        await self.replay.async_dispatch(request)

    # --- Outbound ----------------------------------------------------------------------------

    async def send(self, *, chat: ChatRef, reply: Reply) -> None:
        """Post a reply to a channel or a person's DM (the outbox's pushes).

        A person's DM is addressed by their user id. Slack's refusals become the outbox's
        verdicts (scheduler.outbound); connection errors stay as they are: transient.
        """
        if chat.platform != PLATFORM.name:
            raise ValueError(f"the Slack adapter cannot send to a {chat.platform} chat")
        if reply.private and not chat.is_private:
            raise ValueError("a private reply cannot be sent to a shared channel")
        with _delivery_errors(about_person=chat.is_private):
            channel = chat.chat_id
            if chat.is_private and channel.startswith(("U", "W")):
                channel = await open_dm(self.client, channel)
            await self._post(reply, Channel(self.client, channel))
            if reply.attachment is not None:
                await upload(self.client, channel, reply.attachment)

    # --- Relayer: copies of group messages (bots/slack/relay.py) -----------------------------

    async def post_copy(self, *, chat: ChatRef, copy: Copy, thread: str | None) -> str:
        with _delivery_errors(about_person=False):
            return await self.relayer.post_copy(chat=chat, copy=copy, thread=thread)

    async def edit_copy(self, *, chat: ChatRef, message_id: str, copy: Copy) -> None:
        with _delivery_errors(about_person=False):
            await self.relayer.edit_copy(chat=chat, message_id=message_id, copy=copy)

    async def delete_copy(self, *, chat: ChatRef, message_id: str) -> None:
        with _delivery_errors(about_person=False):
            await self.relayer.delete_copy(chat=chat, message_id=message_id)

    def _copy_message(self, reply: Reply) -> list[tuple[str, list[dict[str, Any]]]]:
        return [(m.text, list(m.blocks)) for m in render_reply(reply, {})]

    # --- ChatAdmin: the channels bound to groups (bots/slack/membership.py) ------------------

    async def admit(self, *, chat_id: str, user_id: str, label: str) -> str | None:
        return await self.channels.admit(chat_id=chat_id, user_id=user_id, label=label)

    async def remove(self, *, chat_id: str, user_id: str) -> None:
        await self.channels.remove(chat_id=chat_id, user_id=user_id)

    async def members(self, *, chat_id: str) -> set[str] | None:
        return await self.channels.members(chat_id=chat_id)

    async def is_member(self, *, chat_id: str, user_id: str) -> bool | None:
        return await self.channels.is_member(chat_id=chat_id, user_id=user_id)

    # --- listeners ---------------------------------------------------------------------------

    def _bolt(self, signing_secret: str | None, *, process_before_response: bool) -> AsyncApp:
        return AsyncApp(
            client=self.client,
            signing_secret=signing_secret or "",
            name="ccin-bridge",
            request_verification_enabled=False,
            process_before_response=process_before_response,
            # Bolt would drop the deletion of one of our relayed copies (its mapping is then
            # forgotten) as the bot's own event; the listeners skip bots themselves.
            ignoring_self_events_enabled=False,
        )

    def _register(self, app: AsyncApp) -> None:
        app.command(COMMAND)(self._on_command)
        app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(self._on_button)
        app.event("app_mention")(self._on_mention)
        app.event("message")(self._on_message)
        app.event("member_joined_channel")(self._on_member_joined)
        app.event("member_left_channel")(self._on_member_left)
        self.home.register(app)
        self.modals.register(app)
        app.error(self._on_error)

    async def _on_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        self.track()
        await ack()  # within Slack's 3 seconds; the answer follows on the response_url
        # A slash command carries only the handle; the name we show back is the person's own.
        user = await self.person(command["user_id"], command.get("user_name"))
        chat = inbound.chat_ref(command["channel_id"], command.get("channel_name"))
        line = inbound.slash_line(command.get("text") or "")
        if (
            line.casefold() == "/broadcast"
            and command.get("trigger_id")
            and await self.bridge.may_run(user, "broadcast")
        ):
            # Slack's own form instead of the step-by-step flow other platforms use; those the
            # bridge does not let broadcast get the command's refusal below instead.
            await self.modals.open_broadcast(str(command["trigger_id"]))
            return
        outcome = await self.bridge.dispatch(TypedLine(user, chat, line))
        to = self._follow_ups(respond, user)
        await self._carry_out(outcome.replies, user=user, chat=chat, to=to)

    async def _on_button(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        self.track()
        await ack()
        actions = body.get("actions") or [{}]
        who = body.get("user") or {}
        user = await self.person(who["id"], who.get("username") or who.get("name"))
        channel = body.get("channel") or {}
        channel_id = channel.get("id") or (body.get("container") or {}).get("channel_id") or ""
        chat = inbound.chat_ref(channel_id, channel.get("name"))
        outcome = await self.bridge.dispatch(
            ButtonPressed(user, chat, str(actions[0].get("value") or ""))
        )
        to = self._follow_ups(respond, user) if respond.response_url else None
        await self._carry_out(outcome.replies, user=user, chat=chat, to=to)

    async def _on_mention(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        self.track()
        if event.get("bot_id") or event.get("user") == context.bot_user_id:
            return  # a bot, ourselves included (Bolt's own filter is off, see `_bolt`)
        await self._on_typed(event, context.bot_user_id, addressed=True)

    async def _on_message(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        self.track()
        if event.get("channel_type") in ("channel", "group"):
            await self._on_channel_message(event)  # for the group's relay
            return
        # Only what a person typed in their DM with the bot: no edits, joins or other bots.
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        await self._on_typed(event, context.bot_user_id)

    async def _on_channel_message(self, event: dict[str, Any]) -> None:
        """A message in a channel, a new version of one, or its deletion, as the core's event.
        Bots' messages (the bridge's own copies among them) and other subtypes are left out."""
        channel, subtype = event.get("channel"), event.get("subtype")
        if not isinstance(channel, str):
            return
        chat = inbound.chat_ref(channel)
        if not await group_relay.relays_in(self.bridge, chat):
            return  # no relay here: nothing asked of Slack, nothing written
        if subtype == "message_deleted":
            gone = event.get("previous_message") or {}
            ts = event.get("deleted_ts")
            if isinstance(ts, str):  # a copy of ours too: that copy is forgotten
                deleted = ChatPostDeleted(chat, relay.message_id(ts, gone.get("thread_ts")))
                await self.bridge.dispatch(deleted)
            return
        edited = subtype == "message_changed"
        message = event.get("message") if edited else event
        if not isinstance(message, dict) or (not edited and subtype not in POSTED):
            return
        if edited and message.get("subtype") == "tombstone" and isinstance(message.get("ts"), str):
            # A thread's first message deleted while it has replies stays as Slackbot's
            # "This message was deleted.": for the relay, it is deleted.
            ts = str(message["ts"])
            await self.bridge.dispatch(ChatPostDeleted(chat, relay.message_id(ts, None)))
            return
        if (not edited and event.get("hidden")) or message.get("user") == SLACKBOT:
            return  # Slack's own notices, never a person's words
        if message.get("bot_id") or message.get("subtype") == "bot_message":
            return  # a bot's (our own copies among them): never relayed
        user_id, ts = message.get("user"), message.get("ts")
        if not isinstance(user_id, str) or not isinstance(ts, str):
            return
        if edited and message.get("text") == (event.get("previous_message") or {}).get("text"):
            return  # an unfurl or a reaction changed it, not its author
        thread_ts = message.get("thread_ts")
        post = ChatPost(
            await self.person(user_id),
            chat,
            relay.message_id(ts, thread_ts),
            to_blocks(await relay.spans(message, self._mention_name)),
            reply_to=thread_ts if isinstance(thread_ts, str) and thread_ts != ts else None,
            edited=edited,
        )
        await self.bridge.dispatch(post)

    async def _mention_name(self, user_id: str) -> str:
        person = await self.person(user_id)
        return person.display_name or person.username or "someone"

    async def _on_typed(
        self, event: dict[str, Any], bot_user_id: str | None, *, addressed: bool = False
    ) -> None:
        user_id, channel = event.get("user"), event.get("channel")
        if not isinstance(user_id, str) or not isinstance(channel, str):
            return
        user = await self.person(user_id)
        chat = inbound.chat_ref(channel)
        line = inbound.message_line(event.get("text") or "", bot_user_id)
        outcome = await self.bridge.dispatch(TypedLine(user, chat, line, addressed=addressed))
        await self._carry_out(
            outcome.replies, user=user, chat=chat, thread_ts=event.get("thread_ts")
        )

    async def _on_member_joined(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        self.track()
        user_id, channel = event.get("user"), event.get("channel")
        if not isinstance(user_id, str) or not isinstance(channel, str):
            return
        chat = inbound.chat_ref(channel)
        if user_id == context.bot_user_id:
            inviter = event.get("inviter")
            by = await self.person(inviter) if isinstance(inviter, str) else None
            await self.bridge.dispatch(BotAdded(chat, by))
            return
        await self.bridge.dispatch(MemberJoined(await self.person(user_id), chat))

    async def _on_member_left(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        self.track()
        user_id, channel = event.get("user"), event.get("channel")
        if not isinstance(user_id, str) or not isinstance(channel, str):
            return
        chat = inbound.chat_ref(channel)
        if user_id == context.bot_user_id:
            await self.bridge.dispatch(BotRemoved(chat))
            return
        await self.bridge.dispatch(MemberLeft(await self.person(user_id), chat))

    async def _on_error(
        self, error: Exception, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        # The details go to the log only; the person hears that something went wrong.
        log.error("Slack request failed (%s)", _describe(body), exc_info=error)
        event = body.get("event") or {}
        destination: Destination | None = None
        if respond.response_url:
            destination = ResponseUrl(respond)
        elif event.get("type") in ("message", "app_mention") and (
            isinstance(event.get("channel"), str) and isinstance(event.get("user"), str)
        ):  # not member_joined_channel and the like: nobody asked for anything
            user = inbound.user_ref(event["user"], None)
            chat = inbound.chat_ref(event["channel"])
            destination = self._destination(ASKER_PRIVATE, user, chat, event.get("thread_ts"))
        elif isinstance(user_id := (body.get("user") or {}).get("id"), str) and user_id:
            # A Home button or a form: no channel to answer in, so tell the person directly.
            destination = DirectMessage(self.client, user_id)
        if destination is None:
            return
        try:
            await self._post(ReplyBuilder().para(GENERIC_ERROR).build(), destination)
        except Exception:
            log.exception("could not tell the person that their Slack request failed")

    # --- replies -----------------------------------------------------------------------------

    async def run(self, user: UserRef, chat: ChatRef, line: str) -> list[Reply]:
        """A command line run for `user` as if typed in `chat` (Home tab and modals)."""
        return (await self.bridge.dispatch(TypedLine(user, chat, line))).reply_list

    async def dm_chat(self, user_id: str) -> ChatRef:
        """The person's DM with the bot, where Home and modal answers go."""
        return inbound.chat_ref(await open_dm(self.client, user_id))

    async def payloads(self, replies: list[Reply]) -> dict[str, str]:
        """Each button's value: its command line, or a token for a long one."""
        return {
            button.action: await self.bridge.encode_action(button.action, MAX_BUTTON_VALUE)
            for reply in replies
            for row in reply.buttons
            for button in row
        }

    def _follow_ups(self, respond: AsyncRespond, user: UserRef) -> FollowUps:
        note = ReplyBuilder().para("The rest of this answer is in our direct messages.").build()
        (message,) = render_reply(note, {})
        return FollowUps(respond, DirectMessage(self.client, user.user_id), message)

    async def deliver(self, replies: Sequence[Outgoing], *, user: UserRef, chat: ChatRef) -> None:
        """What the Home tab or a form got from the core, where the core sent it."""
        await self._carry_out(replies, user=user, chat=chat)

    async def _carry_out(
        self,
        replies: Sequence[Outgoing],
        *,
        user: UserRef,
        chat: ChatRef,
        to: Destination | None = None,
        thread_ts: str | None = None,
    ) -> None:
        """Each reply to where the core sent it, or all to `to` (a slash command's or a
        button's response URL, which only the asker sees)."""
        for outgoing in replies:
            reply = outgoing.reply
            destination = to or self._destination(outgoing.to, user, chat, thread_ts)
            await self._post(reply, destination)
            if reply.attachment is not None:
                # Where the text went, if that is the chat itself; otherwise (an ephemeral
                # message cannot carry a file) to the person's DM, saying so where they asked.
                in_place = to is None and outgoing.to == HERE
                await self._send_file(reply.attachment, user, chat, destination, in_place)
        if isinstance(to, FollowUps):
            await to.flush()

    def _destination(
        self, to: CoreDestination, user: UserRef, chat: ChatRef, thread_ts: str | None
    ) -> Destination:
        if chat.chat_id and (to == HERE or chat.is_private):
            return Channel(self.client, chat.chat_id, thread_ts)
        if chat.chat_id and to == ASKER_PRIVATE:  # Slack shows it to the asker alone
            return Ephemeral(self.client, chat.chat_id, user.user_id, thread_ts)
        return DirectMessage(self.client, user.user_id)

    async def _post(self, reply: Reply, destination: Destination) -> None:
        messages = render_reply(reply, await self.payloads([reply]))
        if reply.kind == "approval_request":
            # Join requests to judge: Slack can also show them as a form (bots/slack/modals.py).
            last = messages[-1]
            if len(last.blocks) < MAX_BLOCKS:
                messages[-1] = replace(last, blocks=(*last.blocks, review_block()))
        for message in messages:
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

    async def person(self, user_id: str, handle: str | None = None) -> UserRef:
        """Events carry only a user id, and commands and buttons a handle; users.info gives
        the names we show back (cached), the handle standing in if it fails."""
        known = self._people.get(user_id)
        if known is None:
            try:
                found = (await self.client.users_info(user=user_id)).get("user")
                info: dict[str, Any] = found if isinstance(found, dict) else {}
            except SlackApiError as exc:
                log.warning("users.info for %s failed: %s", user_id, error_summary(exc))
                info = {}
            except Exception as exc:  # an answer slack-sdk cannot parse, a timeout, ...
                log.warning("users.info for %s failed: %s", user_id, exc.__class__.__name__)
                info = {}
            profile = info.get("profile") or {}
            display = profile.get("display_name") or profile.get("real_name") or ""
            known = (str(display or info.get("real_name") or ""), info.get("name"))
            if info:
                self._people.put(user_id, known)
        return inbound.user_ref(user_id, known[1] or handle, known[0])


# Subtypes of a channel message that are a person posting (a thread reply also sent to the
# channel); joins, topic changes, bots' messages and the rest are not relayed.
POSTED = (None, "thread_broadcast")
SLACKBOT = "USLACKBOT"


def _content_type(body: str) -> str:
    # Events come as JSON; commands and interactions as a form.
    return "application/json" if body.lstrip().startswith("{") else FORM


def _describe(body: dict[str, Any]) -> str:
    """What kind of request failed, without the personal text it carried."""
    kind = str(body.get("type") or ("slash_command" if "command" in body else "unknown"))
    event = body.get("event")
    if isinstance(event, dict):
        kind += f"/{event.get('type')}"
    elif "command" in body:
        kind += f" {body.get('command')}"
    return kind


@contextlib.contextmanager
def _delivery_errors(*, about_person: bool) -> Iterator[None]:
    """Slack's refusals as the outbox's verdicts (scheduler.outbound); connection errors stay
    as they are (transient) unless the request may have reached Slack."""
    try:
        yield
    except SlackApiError as exc:
        mapped = verdict(exc, about_person=about_person)
        if mapped is None:
            raise
        raise mapped from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        doubtful = transport_verdict(exc)
        if doubtful is None:
            raise
        raise doubtful from exc
