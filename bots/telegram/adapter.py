"""The Telegram adapter: PTB updates in, the bridge in the middle, HTML messages out.

It only translates (see STYLE.md): a message or button press becomes a `Request` for the
bridge, and each neutral `Reply` is rendered by `render.py` and sent with the Bot API. Group
membership is in `membership.py`, inline mode in `inline.py`, webhook options in `webhook.py`.
The bot is also the scheduler's `Outbound` and `ChatAdmin` for Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Update,
    User,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)

from ccin_bridge.bots.telegram import profile
from ccin_bridge.bots.telegram.errors import delivery_errors
from ccin_bridge.bots.telegram.http import AiohttpRequest
from ccin_bridge.bots.telegram.inline import TelegramInline
from ccin_bridge.bots.telegram.membership import TelegramMembership
from ccin_bridge.bots.telegram.polling import Poller
from ccin_bridge.bots.telegram.refs import PLATFORM, chat_ref, dm_ref, user_ref
from ccin_bridge.bots.telegram.relay import TelegramRelayer, post_from
from ccin_bridge.bots.telegram.render import Rows, render_reply
from ccin_bridge.bots.telegram.webhook import WebhookConfig, WebhookServer
from ccin_bridge.handlers import relay as group_relay
from ccin_bridge.handlers.config import ConfigError, Secrets
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.errors import GENERIC_ERROR
from ccin_bridge.handlers.events import HERE, ButtonPressed, Outgoing, TypedLine
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.inbox import InboundItem, Inbox, Unreadable
from ccin_bridge.handlers.platforms import PlatformUnreachable
from ccin_bridge.handlers.relay_order import Copy
from ccin_bridge.handlers.replies import Reply, ReplyBuilder, link, text
from ccin_bridge.handlers.requests import clean_text
from ccin_bridge.scheduler.outbound import ChatAdmin, Outbound, Relayer

log = logging.getLogger(__name__)
# Seconds between tries to reach Telegram at start (about half a minute in all), then it fails.
START_RETRIES = (1, 2, 4, 8, 15)
_TOKEN_IN_URL = re.compile(r"bot\d+:[A-Za-z0-9_-]+")

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
ALLOWED_UPDATES = (
    Update.MESSAGE,
    Update.EDITED_MESSAGE,  # group messages relayed: their edits follow (bots/telegram/relay.py)
    Update.CALLBACK_QUERY,
    Update.INLINE_QUERY,
    Update.CHAT_JOIN_REQUEST,
    Update.MY_CHAT_MEMBER,
    Update.CHAT_MEMBER,
)
CALLBACK_DATA_BYTES = 64
# RetryAfter is waited out this many times before the send fails (PTB's default is 0).
MAX_RETRIES = 4
# Telegram's published limits: 30 messages a second in all, 20 a minute in one group.
OVERALL_PER_SECOND, GROUP_PER_MINUTE = 30.0, 20.0
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

TelegramApp = Application[
    ExtBot[int],
    ContextTypes.DEFAULT_TYPE,
    dict[Any, Any],
    dict[Any, Any],
    dict[Any, Any],
    None,
]


def normalise_base_url(url: str | None) -> str:
    """PTB appends `<token>/<method>` to the base URL, so it must end in `/bot`.

    A self-hosted Bot API server is often configured as just `http://host:8081`; accept that.
    """
    if not url:
        return DEFAULT_BASE_URL
    url = url.rstrip("/")
    if "{token}" in url or url.endswith("/bot"):
        return url
    return url + "/bot"


def _network_problem(exc: NetworkError) -> str:
    """A few words on why Telegram could not be reached, with no token (URLs carry it)."""
    if isinstance(exc, TimedOut):
        return "no answer in time"
    said = str(exc.message).split(": ", 1)[-1].split(" ssl:", 1)[0]
    return _TOKEN_IN_URL.sub("bot[redacted]", said)[:160]


class TelegramBot:
    """One bot account. Implements the scheduler's `Outbound` protocol as well."""

    platform: str = PLATFORM

    def __init__(
        self,
        bridge: Bridge,
        *,
        token: str,
        base_url: str | None = None,
        poll_timeout: float = 30.0,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        webhook: WebhookConfig | None = None,
        menu_refresh_seconds: float = 300.0,
        rate_limits: tuple[float, float] = (OVERALL_PER_SECOND, GROUP_PER_MINUTE),
    ) -> None:
        # Opt in to PTB's coming timedelta durations; otherwise every 429 answer (RetryAfter)
        # raises a deprecation warning inside PTB itself.
        os.environ.setdefault("PTB_TIMEDELTA", "true")
        self.bridge = bridge
        self.poll_timeout = poll_timeout
        self.webhook = webhook
        self.menu_refresh_seconds = menu_refresh_seconds
        self._admin_menus: set[int] = set()  # private chats showing the admin command list
        self._menu_task: asyncio.Task[None] | None = None
        self.application: TelegramApp = (
            ApplicationBuilder()
            .token(token)
            .base_url(normalise_base_url(base_url))
            .rate_limiter(
                profile.RateLimiter(
                    overall_max_rate=rate_limits[0],
                    group_max_rate=rate_limits[1],
                    max_retries=MAX_RETRIES,
                )
            )
            # PTB's calls over aiohttp rather than httpx, for the CPU (see bots/telegram/http.py).
            .request(
                AiohttpRequest(
                    connect_timeout=connect_timeout,
                    read_timeout=read_timeout,
                    write_timeout=read_timeout,
                    pool_timeout=connect_timeout,
                )
            )
            .get_updates_request(  # PTB adds the long-poll timeout to the read timeout
                AiohttpRequest(1, connect_timeout=connect_timeout, read_timeout=read_timeout)
            )
            .job_queue(None)  # the bridge has one scheduler of its own for every platform
            .updater(None)  # updates come through the journal instead (bots/telegram/polling.py)
            .build()
        )
        # Every update is stored before Telegram is told it arrived, then handled from there.
        self.inbox = Inbox(bridge.db, PLATFORM, self._process)
        self.poller = Poller(
            self.inbox,
            base_url=self.application.bot.base_url,
            allowed_updates=ALLOWED_UPDATES,
            timeout=poll_timeout,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self.webhook_server = WebhookServer(webhook, self.inbox) if webhook else None
        self.application.add_handler(
            MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND, self._on_command)
        )
        self.application.add_handler(
            MessageHandler(
                filters.UpdateType.MESSAGE
                & filters.ChatType.PRIVATE
                & filters.TEXT
                & ~filters.COMMAND,
                self._on_text,
            )
        )
        # Everything else people post in a group, and their edits: for the group's relay.
        self.application.add_handler(
            MessageHandler(
                (filters.UpdateType.MESSAGE | filters.UpdateType.EDITED_MESSAGE)
                & filters.ChatType.GROUPS
                & filters.TEXT
                & ~filters.COMMAND,
                self._on_group_post,
            )
        )
        self.application.add_handler(CallbackQueryHandler(self._on_button))
        self.relayer = TelegramRelayer(self.application.bot._post)
        self.membership = TelegramMembership(bridge, self.application.bot, self._send)
        self.application.add_handlers(self.membership.handlers())
        self.application.add_handler(TelegramInline(bridge).handler())
        self.application.add_error_handler(self._on_error)

    @classmethod
    def from_secrets(
        cls, bridge: Bridge, secrets: Secrets, *, webhook: WebhookConfig | None = None
    ) -> TelegramBot:
        token = secrets.get("TELEGRAM_BOT_TOKEN")
        if not token:
            raise ConfigError("TELEGRAM_BOT_TOKEN is not set")
        return cls(
            bridge,
            token=token,
            base_url=secrets.get("TELEGRAM_API_BASE_URL"),
            webhook=webhook,
        )

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the token, publish the command lists, take up updates an earlier run left,
        and start receiving: by long polling, or in webhook mode by serving Telegram's POSTs."""
        app = self.application
        for wait in (*START_RETRIES, None):
            try:
                await app.initialize()
                break
            except InvalidToken:
                await app.bot.shutdown()  # initialize() opened the HTTP clients before failing
                raise ConfigError(
                    "TELEGRAM_BOT_TOKEN was rejected by the Telegram server"
                ) from None
            except NetworkError as exc:  # down, or not reachable from here: try again a while
                why = _network_problem(exc)
                if wait is None:
                    await app.bot.shutdown()
                    token = self.application.bot.token
                    where = self.application.bot.base_url.split("/bot")[0].replace(token, "…")
                    raise PlatformUnreachable(
                        f"the Telegram Bot API at {where} cannot be reached"
                        f" ({why.replace(token, '…')}); check the network or TELEGRAM_API_BASE_URL"
                    ) from None
                log.warning("Telegram cannot be reached (%s): trying again in %d s", why, wait)
                await asyncio.sleep(wait)
            except BaseException:
                await app.bot.shutdown()
                raise
        try:
            await self._publish_commands()
            await app.start()
            if self.webhook_server is None:
                await app.bot.delete_webhook(drop_pending_updates=False)
                # Telegram allows one poller per token: the process that handles the
                # platform's updates polls, and another takes over when it goes.
                self.inbox.on_lead, self.inbox.on_standby = self.poller.start, self.poller.stop
            await self.inbox.start()
            if self.webhook_server is not None:
                await self._start_webhook(self.webhook_server)
        except BaseException:
            await self.stop()
            raise
        self._menu_task = asyncio.create_task(self._keep_admin_menus(), name="telegram-menus")
        how = "serving its webhook" if self.webhook is not None else "polling for updates"
        if self.webhook is None and not self.inbox.leading:
            how = "standing by to poll (another process polls now)"
        log.info("Telegram bot @%s is %s", app.bot.username, how)

    async def _start_webhook(self, server: WebhookServer) -> None:
        hook = server.config
        try:
            await server.start()
        except OSError as exc:  # the port is taken, or the host is not this machine's
            raise ConfigError(
                f"--telegram-listen {hook.host}:{hook.port}: cannot listen there ({exc.strerror})"
            ) from None
        try:
            # Telegram sends the secret back on every POST; the server refuses any without it.
            await self.application.bot.set_webhook(
                hook.url,
                secret_token=hook.secret,
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=False,
            )
        except BadRequest as exc:
            raise ConfigError(f"--telegram-webhook: Telegram refused it: {exc.message}") from None

    async def stop_receiving(self, grace: float = 5.0) -> None:
        """Stop receiving at once, give handling under way up to `grace` seconds, and leave
        the rest stored for the next start. Sending still works (the outbox's lanes)."""
        await self.poller.stop()
        if self.webhook_server is not None:
            await self.webhook_server.stop()
        await self.inbox.stop(grace)
        if self._menu_task is not None:
            self._menu_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._menu_task
            self._menu_task = None

    async def stop(self, grace: float = 5.0) -> None:
        """`stop_receiving`, then close PTB's HTTP clients."""
        await self.stop_receiving(grace)
        app = self.application
        if app.running:
            await app.stop()
        await app.shutdown()

    async def _process(self, item: InboundItem) -> None:
        """Handle one stored update (handlers/inbox.py calls this)."""
        try:
            update = Update.de_json(item.payload, self.application.bot)
        except Exception as exc:
            raise Unreadable from exc
        await self.application.process_update(update)

    async def _publish_commands(self) -> None:
        """The bot's description and its menus: private chats list what everyone may run,
        groups what makes sense there (profile.py; no failure stops start-up); each admin's
        own private chat also lists the admin commands (scoped command lists)."""
        await profile.publish(self.application.bot, self.bridge)
        try:
            await self.refresh_admin_menus()
        except Exception:  # the store, say: admins get their menu at the next refresh
            log.warning("could not publish the admin command lists", exc_info=True)

    async def refresh_admin_menus(self) -> None:
        """Give admins granted since the last look (`ccin-bridge admin grant`, config) their
        command list, and take it back from chats whose person is no longer an admin."""
        bot = self.application.bot
        admins = set(await self._admin_chats())
        admin_menu = self._menu(is_admin=True)
        for chat_id in sorted(admins - self._admin_menus):
            try:
                await bot.set_my_commands(admin_menu, scope=BotCommandScopeChat(chat_id))
                self._admin_menus.add(chat_id)
            except TelegramError as exc:  # e.g. an admin who never opened a chat with the bot
                log.info("no admin command list for Telegram chat %s: %s", chat_id, exc)
        for chat_id in sorted(self._admin_menus - admins):
            try:
                await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id))
                self._admin_menus.discard(chat_id)
            except TelegramError as exc:
                log.info("could not reset the command list of chat %s: %s", chat_id, exc)

    async def _keep_admin_menus(self) -> None:
        while True:
            await asyncio.sleep(self.menu_refresh_seconds)
            try:
                await self.refresh_admin_menus()
            except Exception:  # the store or the network: the next round tries again
                log.warning("could not refresh the admin command lists", exc_info=True)

    def _menu(self, *, is_admin: bool) -> list[BotCommand]:
        return profile.menu(self.bridge.visible_commands(is_admin=is_admin))

    async def _admin_chats(self) -> list[int]:
        """Private chats of admins the bot has met (by config or the store's flag): a bot can
        only address a chat that exists, and an admin's DM has the admin's own id."""
        return [int(c) for c in await self.bridge.admin_chats(PLATFORM) if c.isdigit()]

    # --- Outbound --------------------------------------------------------------------------

    async def send(self, *, chat: ChatRef, reply: Reply) -> None:
        """Send one reply from the outbox, reporting failure as the outbox understands it:
        `Blocked` (403: blocked, deactivated, removed from the group), `RetryLater` (429 after
        the rate limiter's own retries), `Undeliverable` (400: chat not found, message
        refused); network errors propagate and are retried. A group that has become a
        supergroup is recorded and the reply goes to its new id."""
        if chat.platform != PLATFORM:
            raise ValueError(f"{chat.platform} chat given to the Telegram adapter")
        if reply.private and not chat.is_private:
            raise ValueError("a private reply can only be sent to a private chat")
        chat_id = int(chat.chat_id)
        try:
            with delivery_errors():
                await self._send(chat_id, reply)
        except ChatMigrated as exc:
            await self.membership.migrated(chat_id, exc.new_chat_id)
            with delivery_errors():
                await self._send(exc.new_chat_id, reply)

    # --- Relayer (see relay.py) -------------------------------------------------------------

    async def post_copy(self, *, chat: ChatRef, copy: Copy, thread: str | None) -> str:
        return await self.relayer.post_copy(chat=chat, copy=copy, thread=thread)

    async def edit_copy(self, *, chat: ChatRef, message_id: str, copy: Copy) -> None:
        await self.relayer.edit_copy(chat=chat, message_id=message_id, copy=copy)

    async def delete_copy(self, *, chat: ChatRef, message_id: str) -> None:
        await self.relayer.delete_copy(chat=chat, message_id=message_id)

    # --- ChatAdmin (see membership.py) ------------------------------------------------------

    async def admit(self, *, chat_id: str, user_id: str, label: str) -> str | None:
        return await self.membership.admit(chat_id=chat_id, user_id=user_id, label=label)

    async def remove(self, *, chat_id: str, user_id: str) -> None:
        await self.membership.remove(chat_id=chat_id, user_id=user_id)

    async def members(self, *, chat_id: str) -> set[str] | None:
        return await self.membership.members(chat_id=chat_id)

    async def is_member(self, *, chat_id: str, user_id: str) -> bool | None:
        return await self.membership.is_member(chat_id=chat_id, user_id=user_id)

    # --- updates in ------------------------------------------------------------------------

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or message.text is None or message.from_user is None:
            return
        if not self._is_for_me(message.text):
            return
        await self._typed(message.from_user, message.chat, message.text)

    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or message.text is None or message.from_user is None:
            return
        await self._typed(message.from_user, message.chat, message.text)

    async def _on_group_post(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.edited_message or update.message
        post = post_from(message, edited=update.edited_message is not None) if message else None
        if post is not None and await group_relay.relays_in(self.bridge, post.chat):
            await self.bridge.dispatch(post)

    async def _typed(self, user: User, chat: Chat, line: str) -> None:
        outcome = await self.bridge.dispatch(TypedLine(user_ref(user), chat_ref(chat), line))
        await self._answer(chat, user, outcome.replies)

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        try:
            # Answer first: the button shows a spinner until then, even if handling fails.
            await query.answer()
        except TelegramError as exc:
            log.warning("could not answer a button press: %s", exc)
        user = query.from_user
        chat = query.message.chat if query.message is not None else None
        # A button on an inline-mode message has no chat of ours: it answers in the DM.
        where = chat_ref(chat) if chat is not None else dm_ref(user)
        outcome = await self.bridge.dispatch(ButtonPressed(user_ref(user), where, query.data or ""))
        if chat is None:
            await self._send_each(user.id, outcome.reply_list)
        else:
            await self._answer(chat, user, outcome.replies)

    def _is_for_me(self, line: str) -> bool:
        """`/cmd@OtherBot` in a group is addressed to another bot."""
        head = line.split(maxsplit=1)[0] if line.strip() else ""
        _, at, name = head.partition("@")
        return not at or name.casefold() == (self.application.bot.username or "").casefold()

    # --- replies out -----------------------------------------------------------------------

    async def _answer(self, chat: Chat, user: User, replies: Sequence[Outgoing]) -> None:
        """Each reply where the core sent it; Telegram cannot show a message to one member of
        a group, so the asker's private answers go to their DM."""
        for outgoing in replies:
            if outgoing.to == HERE or chat.type == Chat.PRIVATE:
                await self._send(chat.id, outgoing.reply)
            else:
                await self._send_privately(chat, user, outgoing.reply)

    async def _send_each(self, chat_id: int, replies: list[Reply]) -> None:
        for reply in replies:
            await self._send(chat_id, reply)

    async def _send_privately(self, group: Chat, user: User, reply: Reply) -> None:
        """Personal data asked for in a group goes to the person's DM, never the group."""
        try:
            await self._send(user.id, reply)
        except Forbidden as exc:
            # They never started the bot, or blocked it: the bot may not write to them first.
            log.info("could not DM Telegram user %s: %s", user.id, exc.message)
            notice = self._start_me_first(user)
        else:
            notice = text(f"{_first_name(user)}, I have sent that to you in a private chat.")
        await self._send(group.id, notice)

    def _start_me_first(self, user: User) -> Reply:
        builder = ReplyBuilder()
        username = self.application.bot.username
        if username:
            builder.para(
                f"{_first_name(user)}, that answer is private, so I only send it in a private "
                "chat. Please /start me in a private chat first (",
                link(f"t.me/{username}", f"https://t.me/{username}"),
                "), then ask again.",
            )
        else:
            builder.para(
                f"{_first_name(user)}, that answer is private, so I only send it in a private "
                "chat. Please /start me in a private chat first, then ask again."
            )
        return builder.build()

    async def _send(self, chat_id: int, reply: Reply) -> None:
        bot = self.application.bot
        for chunk in render_reply(reply):
            # `send_message` without its answer read into a `Message` (unused here): that
            # parsing cost more CPU than the request itself (~0.8 ms for a long answer). The
            # same request, rate limiter and errors (`_post` is what `send_message` calls).
            await bot._post(
                "sendMessage",
                {
                    "chat_id": chat_id,
                    "text": chunk.html,
                    "parse_mode": ParseMode.HTML,
                    "reply_markup": await self._keyboard(chunk.rows),
                    "link_preview_options": NO_PREVIEW,
                },
            )
        if reply.attachment is not None:
            await bot.send_document(
                chat_id,
                InputFile(reply.attachment.content, filename=reply.attachment.filename),
            )

    async def _keyboard(self, rows: Rows) -> InlineKeyboardMarkup | None:
        if not rows:
            return None
        return InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        button.label,
                        callback_data=await self.bridge.encode_action(
                            button.action, max_bytes=CALLBACK_DATA_BYTES
                        ),
                    )
                    for button in row
                ]
                for row in rows
            ]
        )

    # --- errors ----------------------------------------------------------------------------

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The one error hook: log, tell the person when that can help, never raise."""
        error = context.error
        chat = update.effective_chat if isinstance(update, Update) else None
        where = chat.id if chat is not None else "?"
        # Only someone who asked (a message or a button) is told; a member update or join
        # request that failed must not post an error into the whole group.
        asked = isinstance(update, Update) and (update.message or update.callback_query)
        if isinstance(error, Forbidden):
            # Blocked, or removed from a group: nothing to retry and nobody to tell.
            log.info("Telegram refused a message to chat %s: %s", where, error.message)
            return
        log.error("error while handling a Telegram update from chat %s", where, exc_info=error)
        unreachable = isinstance(error, NetworkError) and not isinstance(error, BadRequest)
        if chat is None or not asked or unreachable or isinstance(error, RetryAfter):
            return  # nobody to tell, or the API is unreachable or flooded: telling would fail
        try:
            await self._send(chat.id, text(GENERIC_ERROR))
        except TelegramError as exc:
            log.warning("could not tell chat %s about the error: %s", chat.id, exc)


def _first_name(user: User) -> str:
    # A name as Telegram gave it may hold anything, even a lone surrogate (not sendable).
    return clean_text(user.first_name)[:64] or "Hello"


if TYPE_CHECKING:  # mypy proves the adapter satisfies the scheduler's interface

    def _is_outbound(bot: TelegramBot) -> Outbound:
        return bot

    def _is_chat_admin(bot: TelegramBot) -> ChatAdmin:
        return bot

    def _is_relayer(bot: TelegramBot) -> Relayer:
        return bot
