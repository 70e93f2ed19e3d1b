"""The admins' web console, platform-neutral: sign-in by a code the bot sends, sessions, and
requests run through the core as the signed-in admin's account.

The console has no business rules of its own: a page is the replies of the commands an admin
would type in chat (`/pending`, `/news queue`, ...), and a button on it runs its action the
way a pressed chat button does (`Bridge.handle_button`), with the same rights check and the
same audit entries. Rights belong to the account that signed in, checked on every request, so
an admin whose right is revoked is signed out at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from ccin_bridge.handlers import flow, reply_codec
from ccin_bridge.handlers.commands.broadcast import BROADCAST
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge, RequestFactory
from ccin_bridge.handlers.events import FormSubmitted, Outcome
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.replies import Reply, ReplyBuilder, bold
from ccin_bridge.handlers.requests import parse_command_line
from ccin_bridge.store import audit, console_auth, outbox, people
from ccin_bridge.store.console_auth import Account, SessionRecord

log = logging.getLogger(__name__)

# Button payloads on a page are posted back by the browser: a long action is kept
# server-side (callbacks) like a chat button's, so a form never carries more than this.
MAX_PAYLOAD = 1000
# Flows the console offers as forms of their own, by command.
FORMS: dict[str, flow.Flow[Any]] = {BROADCAST.command: BROADCAST}


@dataclass(frozen=True)
class SignedIn:
    session: SessionRecord
    admin: Account

    @property
    def user(self) -> UserRef:
        # As the platform last named the account: a request carries the names the core keeps
        # up to date, so the console must not blank them.
        a = self.admin
        return UserRef(a.platform, a.external_id, display_name=a.display_name, username=a.username)


@dataclass(frozen=True)
class AuditQuery:
    action: str = ""
    since: date | None = None  # days in the network's time zone, both included
    until: date | None = None
    limit: int = 200


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    who: str
    action: str
    detail: str


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def code_message(network: str, code: str, minutes: int) -> Reply:
    return (
        ReplyBuilder()
        .para(
            "Your sign-in code for the ",
            bold(f"{network} admin console"),
            " is ",
            bold(console_auth.shown(code)),
        )
        .para(
            f"It works once, for {minutes} minutes, in the browser that asked for it. "
            "If you did not ask for it, ignore this message: nobody can sign in without it."
        )
        .build(private=True)
    )


class Console:
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    @property
    def settings(self) -> Settings:
        return self.bridge.settings

    @property
    def _lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.console.session_hours)

    @property
    def _idle(self) -> timedelta:
        return timedelta(minutes=self.settings.console.idle_minutes)

    async def send_code(self, handle: str, browser: str) -> None:
        """Send a code to the admin account `handle` names, bound to `browser`; nothing for a
        handle that names no admin (the browser is told the same either way, so the page
        cannot be used to find out who the admins are)."""
        now = self.bridge.clock()
        async with self.bridge.db.session() as session:
            await console_auth.purge(session, now)  # spent codes and ended sessions: tidy
            accounts = await console_auth.admin_accounts_matching(
                session, handle[:200], self.settings.admins
            )
            if not accounts:
                log.info("console: a code was asked for a handle that names no admin")
                return
            # Handles are unique on a platform; the same handle on two platforms takes the
            # oldest account (PLATFORM:USER_ID picks another).
            account = accounts[0]
            if await console_auth.recent_codes(session, account.identity_id, now) >= (
                console_auth.CODES_PER_ACCOUNT
            ):
                log.info("console: codes for account %s are rate-limited", account.identity_id)
                return
            code = await console_auth.issue_code(session, account.identity_id, browser, now)
            minutes = int(console_auth.CODE_VALID_FOR.total_seconds() // 60)
            await outbox.create_push(
                session,
                kind=outbox.SIGN_IN_CODE,
                payload=reply_codec.encode(code_message(self.settings.network_name, code, minutes)),
                targets=[outbox.Target(account.platform, account.external_id, account.identity_id)],
                title="Console sign-in code",
                subject_id=account.person_id,
                now=now,
            )

    async def sign_in(self, browser: str, code: str) -> tuple[str, SignedIn] | None:
        """Exchange a right code from the browser that asked for it for a session token."""
        now = self.bridge.clock()
        typed = console_auth.normalise(code)
        async with self.bridge.db.session() as session:
            identity_id = await console_auth.redeem_code(session, browser, typed, now)
            if identity_id is None:
                return None
            account = await console_auth.account_is_admin(
                session, identity_id, self.settings.admins
            )
            if account is None:  # revoked between the code and its use
                return None
            token, record = await console_auth.start_session(
                session, identity_id, now, self._lifetime
            )
            await audit.record(
                session,
                actor_id=account.person_id,
                action="console.sign_in",
                platform=account.platform,
            )
        return token, SignedIn(record, account)

    async def signed_in(self, token: str, *, touch: bool = True) -> SignedIn | None:
        """The live session of a cookie token, if its account is still an admin; a session
        whose account lost the right is ended here and now. `touch=False` for a request
        the page makes by itself (a report refreshing): it does not count as use."""
        now = self.bridge.clock()
        async with self.bridge.db.session() as session:
            record = await console_auth.find_session(session, token, now, self._idle, touch=touch)
            if record is None:
                return None
            account = await console_auth.account_is_admin(
                session, record.identity_id, self.settings.admins
            )
            if account is None:
                await console_auth.end_sessions_of(session, record.identity_id)
                return None
            return SignedIn(record, account)

    async def sign_out(self, signed_in: SignedIn) -> None:
        async with self.bridge.db.session() as session:
            await console_auth.end_session(session, signed_in.session.id)
            await audit.record(
                session,
                actor_id=signed_in.admin.person_id,
                action="console.sign_out",
                platform=signed_in.admin.platform,
            )

    def _requests(self, signed_in: SignedIn) -> RequestFactory:
        # Replies come back to the browser; the chat only says where the request was made.
        # A flow is the account's, as in chat: a question the bot asks in the console may be
        # answered here or in the admin's private chat.
        chat_id = f"console-{signed_in.session.id}"
        return self.bridge.requests(signed_in.user, ChatRef(signed_in.admin.platform, chat_id))

    async def show(self, signed_in: SignedIn, line: str) -> list[Reply]:
        """A command line for a page, as if the admin had typed it in a private chat."""
        parsed = parse_command_line("/" + line.strip().removeprefix("/"))
        if parsed is None:
            return []
        command, args = parsed
        request_for = self._requests(signed_in)
        return await self.bridge.handle(request_for(command, args))

    async def type(self, signed_in: SignedIn, line: str) -> list[Reply]:
        """A line typed in the console's box: a command (with or without `/`), or the answer
        to the question the bot asked last."""
        return await self.bridge.handle_text(
            self._requests(signed_in), line[:4000], addressed=True, bare_commands=True
        )

    async def press(self, signed_in: SignedIn, payload: str, typed: str = "") -> list[Reply]:
        """A button on a page, as if pressed in chat (`typed`: the reason field beside it)."""
        request_for = self._requests(signed_in)
        return await self.bridge.handle_button(request_for, payload, typed=typed[:1000])

    def form_fields(self, command: str) -> list[flow.Field]:
        """The inputs of a flow's form (as Slack's modal has them), for a console page."""
        env = flow.FormEnv(self.settings, is_admin=True)
        return FORMS[command].form_fields(env)

    async def submit(self, signed_in: SignedIn, command: str, answers: dict[str, str]) -> Outcome:
        """A console form for a flow: every answer through its step, as a platform's form is
        (`outcome.form.errors` by field; else the flow's next question, e.g. the preview)."""
        fields = {f.name for f in self.form_fields(command)}
        taken = {name: value for name, value in answers.items() if name in fields}
        chat = ChatRef(signed_in.admin.platform, f"console-{signed_in.session.id}")
        return await self.bridge.dispatch(FormSubmitted(signed_in.user, chat, command, taken))

    async def audit_log(self, query: AuditQuery) -> tuple[list[AuditRow], list[str]]:
        """Entries matching `query`, newest first, with who did each; and every action."""
        zone = self.settings.zone
        since = _midnight(query.since, zone) if query.since else None
        until = _midnight(query.until + timedelta(days=1), zone) if query.until else None
        async with self.bridge.db.read() as session:
            found = await audit.entries(
                session, action=query.action or None, since=since, until=until, limit=query.limit
            )
            actors = {e.actor_id for e in found if e.actor_id is not None}
            names = await people.display_names(session, actors)
            known = await audit.actions(session)
        rows = [
            AuditRow(
                at=e.at.astimezone(zone),
                who=(names.get(e.actor_id) or f"#{e.actor_id}") if e.actor_id else "the bridge",
                action=e.action,
                detail=", ".join(f"{k}: {v}" for k, v in sorted(e.detail.items())),
            )
            for e in found
        ]
        return rows, known

    async def payload(self, action: str) -> str:
        return await self.bridge.encode_action(action, MAX_PAYLOAD)
