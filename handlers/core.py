"""The bridge's platform-neutral core: one request in, replies out, errors contained."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers import (
    chat_events,
    group_settings,
    inbox,
    inline,
    platforms,
    reply_codec,
)
from ccin_bridge.handlers import relay as group_relay
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.errors import GENERIC_ERROR, UserFacingError
from ccin_bridge.handlers.events import (
    ASKER_DM,
    ASKER_PRIVATE,
    HERE,
    BlockedByUser,
    BotAdded,
    BotRemoved,
    ButtonPressed,
    ChatMoved,
    ChatPost,
    ChatPostDeleted,
    Event,
    FormSubmitted,
    InlineQuery,
    JoinRequested,
    MemberJoined,
    MemberLeft,
    Outcome,
    Outgoing,
    TypedLine,
)
from ccin_bridge.handlers.forms import Form
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, text
from ccin_bridge.handlers.requests import (
    Request,
    checked_args,
    clean_multiline,
    clean_text,
    clean_user,
    parse_command_line,
    without_surrogates,
)
from ccin_bridge.store import addresses, audiences, callbacks, conversations, people
from ccin_bridge.store import inbox as store_inbox
from ccin_bridge.store.conversations import ConversationRecord
from ccin_bridge.store.db import Database
from ccin_bridge.store.records import PersonRecord

log = logging.getLogger(__name__)

# A direct payload is the action itself; a long one is swapped for a token kept server-side.
DIRECT, TOKEN = "=", "#"


@dataclass(frozen=True)
class Context:
    """Everything a command needs: who asked, with what rights, in which unit of work."""

    request: Request
    person: PersonRecord
    is_admin: bool
    session: AsyncSession
    settings: Settings
    now: datetime
    commands: tuple[Command, ...] = ()  # what this person may run, for /help
    identity_id: int = 0  # the account this request came from (people may have several)
    conversation: ConversationRecord | None = None  # set when plain text continues a flow

    @property
    def args(self) -> str:
        return self.request.args


Handler = Callable[[Context], Awaitable[Reply | list[Reply]]]
RequestFactory = Callable[[str, str], Request]  # (command, args) -> Request from this chat


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    handler: Handler
    usage: str = ""
    admin_only: bool = False
    aliases: tuple[str, ...] = field(default=())
    free_text: bool = False  # arguments may be a whole message, line breaks kept
    read_only: bool = False  # runs in a read-only unit of work (any write in it fails)
    stops_flows: bool = False  # typed bare, it wins over the step a flow waits for (cancel)


class Bridge:
    """The core's one entry: adapters `dispatch` events and carry out the outcome; it never
    raises. Commands run through `handle` (a request already made), which tests use too."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        commands: Iterable[Command],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.commands: dict[str, Command] = {}
        for cmd in commands:
            for name in (cmd.name, *cmd.aliases):
                self.commands[name] = cmd
        self._session_admins: set[str] = set()
        self._live = group_settings.LiveSettings()

    async def start(self) -> None:
        """Seed the store's groups and audiences from config (run once at start-up)."""
        async with self.db.session() as session:
            await group_settings.seed(session, self.settings)

    async def live_settings(self, session: AsyncSession) -> Settings:
        """Config with the groups' and audiences' settings as the store holds them now (an
        admin may have edited them in any process since this one started)."""
        return await self._live.get(session, self.settings)

    def grant_session_admin(self, user: UserRef) -> None:
        """Admin rights for this process only (the terminal chat's `--admin`)."""
        self._session_admins.add(user.key)

    def visible_commands(self, is_admin: bool) -> list[Command]:
        unique = {c.name: c for c in self.commands.values()}
        return [c for c in unique.values() if is_admin or not c.admin_only]

    async def dispatch(self, event: Event) -> Outcome:
        """Handle one event from a platform. A failure is logged and contained: whoever asked
        (a typed line, a button) is told something went wrong; a chat event tells nobody."""
        if not isinstance(event, TypedLine | ButtonPressed | FormSubmitted):
            return await self._chat_event(event)
        requests = self.requests(event.user, event.chat)
        form = None
        try:
            if isinstance(event, TypedLine):
                replies = await self.handle_text(requests, event.text, addressed=event.addressed)
            elif isinstance(event, ButtonPressed):
                replies = await self.handle_button(requests, event.payload, typed=event.typed)
            else:
                form = Form(dict(event.answers), event.check_only)
                replies = await self._submit(requests, event.command, form)
        except store_inbox.AlreadyHandled:
            raise  # not this process's to answer: the journal's (handlers/inbox.py)
        except Exception:
            log.exception("%s from %s failed", type(event).__name__, event.user.key)
            return Outcome((self._failure(event.chat),), failed=True)
        return Outcome(self._addressed(event.chat, replies), form=form)

    @staticmethod
    def _failure(chat: ChatRef) -> Outgoing:
        """ "Something went wrong", to the asker alone where the platform can show it to one
        member of a chat; elsewhere where they asked (a second message in their DM would
        only add to it)."""
        spec = platforms.find(chat.platform)
        alone = spec is not None and spec.ephemeral and not chat.is_private
        return Outgoing(text(GENERIC_ERROR), ASKER_PRIVATE if alone else HERE)

    async def _submit(self, request_for: RequestFactory, command: str, form: Form) -> list[Reply]:
        """A form for the flow of `command`: the command runs as if typed bare, with the form
        in its request (its rights, unit of work and errors as for any request)."""
        if command not in self.commands:
            return [self._unknown(request_for("", ""), command)]
        return await self.handle(replace(request_for(command, ""), form=form))

    def requests(self, user: UserRef, chat: ChatRef) -> RequestFactory:
        """Requests from `user` in `chat`, spelling commands as that platform's people type
        them (its registry entry's prefix, e.g. Slack's `/ccin `)."""
        prefix = platforms.prefix(chat.platform)

        def request_for(command: str, args: str) -> Request:
            return Request(user, chat, command, args, prefix=prefix)

        return request_for

    @staticmethod
    def _addressed(chat: ChatRef, replies: Iterable[Reply]) -> tuple[Outgoing, ...]:
        """Where each answer to someone in `chat` goes: personal data asked for in a group goes
        to the asker alone, never to the group (shown there to them alone where the platform
        can, else in their DM); everything else where it was asked."""
        spec = platforms.find(chat.platform)
        alone = ASKER_PRIVATE if spec is not None and spec.ephemeral else ASKER_DM
        return tuple(
            Outgoing(r, alone if r.private and not chat.is_private else HERE) for r in replies
        )

    async def _chat_event(self, event: Event) -> Outcome:
        """What the platform told us about a chat or a person; contained like a command."""
        try:
            if isinstance(event, JoinRequested):
                decision = await chat_events.join_request(self, chat=event.chat, user=event.user)
                # The person is not in the chat yet: the answer can only go to them privately.
                told = () if decision.message is None else (Outgoing(decision.message, ASKER_DM),)
                return Outcome(told, admit=decision.approve)
            if isinstance(event, MemberJoined):
                await chat_events.member_joined(self, chat=event.chat, user=event.user)
            elif isinstance(event, MemberLeft):
                await chat_events.member_left(self, chat=event.chat, user=event.user)
            elif isinstance(event, BotAdded | BotRemoved):
                present = isinstance(event, BotAdded)
                await chat_events.bot_membership(
                    self, chat=event.chat, present=present, by=event.by
                )
            elif isinstance(event, BlockedByUser):
                await chat_events.bot_blocked(self, user=event.user, blocked=event.blocked)
            elif isinstance(event, ChatMoved):
                await chat_events.chat_migrated(
                    self,
                    platform=event.platform,
                    old_chat_id=event.old_chat_id,
                    new_chat_id=event.new_chat_id,
                )
            elif isinstance(event, InlineQuery):
                return Outcome(inline=await inline.inline_page(self, event.query, event.offset))
            elif isinstance(event, ChatPost):
                await group_relay.posted(self, event)
            elif isinstance(event, ChatPostDeleted):
                await group_relay.deleted(self, event)
        except store_inbox.AlreadyHandled:
            raise  # another process did it (see `dispatch`)
        except Exception:
            log.exception("%s failed", type(event).__name__)
            return Outcome(failed=True)
        return Outcome()

    async def handle(self, request: Request) -> list[Reply]:
        """Answer one request. Any failure becomes a friendly reply, never an exception.

        Inside an inbound update (handlers/inbox.py) a command that writes commits its replies
        with its effects; if the update comes round again after a crash, those replies are
        the answer and the command does not run twice."""
        current = inbox.receipt.get()
        call, answered = current.next_call() if current is not None else (0, None)
        if answered is not None:
            return answered
        try:
            return await self._dispatch(request, current, call)
        except UserFacingError as exc:
            return [text(exc.reason)]
        except store_inbox.AlreadyHandled:
            raise  # another process did it (see `dispatch`)
        except Exception:
            log.exception(
                "command %r failed for %s on %s",
                request.command,
                request.user.key,
                request.chat.platform,
            )
            return [text(GENERIC_ERROR)]

    async def handle_text(
        self,
        request_for: RequestFactory,
        line: str,
        *,
        addressed: bool = False,
        bare_commands: bool | None = None,
    ) -> list[Reply]:
        """A line typed by a person: a command if it starts with `/`, or, on a platform where
        people type commands bare (its registry entry's `bare_commands`: Slack), if its first
        word is a command's name in a private chat or in a line `addressed` to the bot (a
        mention); otherwise the next step of a flow in progress, else a nudge.

        A flow waiting in a private chat wins over a command word (a news title such as
        "Events in Leeds" is the title), except a word that stops flows (`cancel`). The same
        rule holds on every platform. `bare_commands` overrides the platform's entry (the web
        console takes bare commands whatever the admin's platform)."""
        cleaned = clean_text(line)
        if not cleaned:
            return []
        # Arguments keep their line breaks here; `_dispatch` flattens them unless the command
        # takes free text (a broadcast's paragraphs).
        full = clean_multiline(line)
        if not cleaned.startswith("/"):
            plain = request_for("", full)
            bare = await self._bare_command(
                plain, cleaned, addressed=addressed, allowed=bare_commands
            )
            if not bare:
                # Plain text: the next step of a flow in progress, else a nudge (_dispatch).
                return await self.handle(plain)
            cleaned, full = "/" + cleaned, "/" + full
        parsed = parse_command_line(cleaned)
        typed = full.removeprefix("/")
        rest = typed.split(maxsplit=1)[1] if len(typed.split(maxsplit=1)) > 1 else ""
        if parsed is None or parsed[0] not in self.commands:
            name = cleaned.removeprefix("/").split(" ", 1)[0]
            return await self.handle(replace(request_for("", typed), unknown_command=name))
        return await self.handle(request_for(parsed[0], rest))

    async def _bare_command(
        self, request: Request, cleaned: str, *, addressed: bool, allowed: bool | None = None
    ) -> bool:
        """Whether a line without `/` names a command the person meant to run."""
        if allowed is None:
            spec = platforms.find(request.chat.platform)
            allowed = spec is not None and spec.bare_commands
        cmd = self.commands.get(cleaned.split(" ", 1)[0].casefold())
        if cmd is None or not allowed:
            return False
        if not request.chat.is_private:
            return addressed  # flows continue only in private chats
        if cmd.stops_flows:
            return True
        user = clean_user(request.user)
        async with self.db.read() as session:
            waiting = await conversations.waiting(
                session, user.platform, user.user_id, self.clock()
            )
        return not waiting

    async def _dispatch(
        self, request: Request, current: inbox.Receipt | None, call: int
    ) -> list[Reply]:
        cmd = self.commands.get(request.command) if request.command else None
        if request.command and cmd is None:
            return [self._unknown(request, request.command)]
        if cmd is not None and cmd.read_only:
            return await self._read_only(cmd, request)
        async with self.db.session() as session:
            caller = await self._account(session, request)
            flow = None
            if cmd is None:
                # Plain text continues a flow only in a private chat (in a group, people talk
                # to each other); a `/word` that is no command was addressed to the bot.
                addressed = request.chat.is_private or bool(request.unknown_command)
                flow = (
                    await conversations.current(session, caller.identity_id, self.clock())
                    if addressed
                    else None
                )
                cmd = self.commands.get(flow.command) if flow is not None else None
                if cmd is None and request.unknown_command:
                    is_admin = self._is_admin(request.user, caller)
                    return [self._unknown(request, request.unknown_command, is_admin=is_admin)]
                if cmd is None:
                    return [self._not_a_command(request)]
            replies = await self._run(cmd, request, caller, session, flow)
            if current is not None:
                encoded = [reply_codec.encode(r) for r in replies]
                await store_inbox.record_replies(session, current.item_id, call, encoded)
        return replies

    async def _read_only(self, cmd: Command, request: Request) -> list[Reply]:
        """A command that only reads runs beside writers; the caller is written first only
        when something about them changed (a new account or name, an hourly last-seen)."""
        async with self.db.read() as session:
            caller = await people.known_account(session, **self._account_fields(request.user))
            if caller is not None:
                return await self._run(cmd, request, caller, session, None)
        async with self.db.session() as session:
            caller = await self._account(session, request)
        async with self.db.read() as session:
            return await self._run(cmd, request, caller, session, None)

    async def _run(
        self,
        cmd: Command,
        request: Request,
        caller: people.Caller,
        session: AsyncSession,
        flow: ConversationRecord | None,
    ) -> list[Reply]:
        args = checked_args(request.args, free_text=cmd.free_text)
        is_admin = self._is_admin(request.user, caller)
        if cmd.admin_only and not is_admin:
            raise UserFacingError(f"{request.show(cmd.name)} is for network admins only.")
        ctx = Context(
            request=replace(request, command=cmd.name, args=args),
            person=caller.person,
            is_admin=is_admin,
            session=session,
            settings=await self.live_settings(session),
            now=self.clock(),
            commands=tuple(self.visible_commands(is_admin)),
            identity_id=caller.identity_id,
            conversation=flow,
        )
        result = await cmd.handler(ctx)
        return result if isinstance(result, list) else [result]

    def _account_fields(self, user: UserRef) -> dict[str, Any]:
        return {
            "platform": user.platform,
            "external_id": user.user_id,
            "display_name": clean_text(user.display_name)[:200],
            "username": user.username,
            "now": self.clock(),
        }

    async def _account(self, session: AsyncSession, request: Request) -> people.Caller:
        return await people.account(session, **self._account_fields(request.user))

    async def may_run(self, user: UserRef, command: str) -> bool:
        """Whether this person may run `command`, for an adapter that would open a form leading
        only to it (Slack's broadcast modal): the command itself still checks. False for an
        unknown command, or if it cannot be told (the command then answers for itself)."""
        cmd = self.commands.get(command)
        if cmd is None:
            return False
        if not cmd.admin_only:
            return True
        user = clean_user(user)
        try:
            async with self.db.session() as session:
                caller = await people.account(session, **self._account_fields(user))
        except Exception:
            log.exception("could not tell whether %s may run %r", user.key, command)
            return False
        return self._is_admin(user, caller)

    async def admin_chats(self, platform: str) -> list[str]:
        """Private chats on `platform` of the admins the bridge has met (by config or the
        store's flag), for an adapter that shows admins their own command menu."""
        async with self.db.read() as session:
            targets = await audiences.admin_targets(session, self.settings.admins)
        return sorted({t.chat_id for t in targets if t.platform == platform})

    async def remember_address(self, user: UserRef, address: dict[str, Any]) -> bool:
        """Keep how the platform reaches this account when the bridge writes first (a Teams
        conversation reference); False for an account the bridge has not met."""
        async with self.db.session() as session:
            return await addresses.remember(session, user.platform, user.user_id, address)

    async def address_of(self, user: UserRef) -> dict[str, Any] | None:
        async with self.db.read() as session:
            return await addresses.address_of(session, user.platform, user.user_id)

    def _is_admin(self, user: UserRef, caller: people.Caller) -> bool:
        """Rights belong to the account: the store's flag on it, config, or `chat --admin`."""
        return (
            caller.is_admin or user.key in self.settings.admins or user.key in self._session_admins
        )

    def _unknown(self, request: Request, name: str, *, is_admin: bool = False) -> Reply:
        # From the registered commands (aliases too), only those this person may run.
        names = [n for n, c in self.commands.items() if is_admin or not c.admin_only]
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        builder = ReplyBuilder().para(f"I don't know the command {request.show(name[:40])}.")
        if close:
            builder.para(f"Did you mean {request.show(close[0])}?")
        builder.para(f"Send {request.show('help')} to see what I can do.")
        return builder.build()

    def _not_a_command(self, request: Request) -> Reply:
        examples = ", ".join(request.show(c) for c in ("search", "events", "groups"))
        builder = ReplyBuilder().para(f"I answer commands such as {examples}.")
        words = request.args[:60].strip()
        if words:
            builder.para(f"Did you want to search for “{words}”?").buttons(
                # A button's action is a command line; keep it short enough to stay direct.
                Button("Search for it", f"search {words}"),
                Button("Help", "help"),
            )
        else:
            builder.buttons(Button("Help", "help"))
        return builder.build()

    # --- button payloads -------------------------------------------------------------------

    async def encode_action(self, action: str, max_bytes: int) -> str:
        """A payload of at most `max_bytes` bytes that `decode_action` turns back into `action`."""
        direct = DIRECT + action
        if len(direct.encode()) <= max_bytes:
            return direct
        async with self.db.session() as session:
            return TOKEN + await callbacks.save_action(session, action)

    async def decode_action(self, payload: str) -> str | None:
        payload = without_surrogates(payload)  # forged or garbled: the store cannot encode them
        if payload.startswith(DIRECT):
            return payload[len(DIRECT) :]
        if payload.startswith(TOKEN):
            async with self.db.read() as session:
                return await callbacks.load_action(session, payload[len(TOKEN) :])
        return None

    async def handle_button(
        self, request_for: RequestFactory, payload: str, *, typed: str = ""
    ) -> list[Reply]:
        """A pressed button: decode its payload and run the action as a command, with `typed`
        (what a form sent with it) as its last argument."""
        try:
            action = await self.decode_action(payload)
        except Exception:
            log.exception("could not decode button payload")
            action = None
        parsed = parse_command_line(action) if action else None
        if parsed is None:
            return [text("That button has expired. Please send the command again.")]
        command, args = parsed
        extra = clean_text(typed)
        if extra:
            args = f"{args} {extra}".strip()
        return await self.handle(replace(request_for(command, args), from_button=True))
