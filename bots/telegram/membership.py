"""The real Telegram groups: who may come in, who goes out, and what the bot is told about them.

Outgoing, this is the scheduler's `ChatAdmin` for Telegram: invite with a join-request link
(the bot then approves only the people the store says may join), remove with a ban that is
lifted at once (so the person can be invited again later). Incoming, it translates
`chat_join_request`, `chat_member`, `my_chat_member` and group migrations into the core's
events (handlers/events.py); the rules are in `handlers.chat_events`. The bot must be an admin
of each bound group with the rights to invite users, ban users and manage join requests.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from telegram import Chat, ChatMember, ChatMemberRestricted, Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError
from telegram.ext import (
    BaseHandler,
    ChatJoinRequestHandler,
    ChatMemberHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)

from ccin_bridge.bots.telegram.errors import delivery_errors, is_not_a_member
from ccin_bridge.bots.telegram.refs import PLATFORM, chat_ref, user_ref
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.events import (
    BlockedByUser,
    BotAdded,
    BotRemoved,
    ChatMoved,
    JoinRequested,
    MemberJoined,
    MemberLeft,
)
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.scheduler.outbound import Undeliverable

log = logging.getLogger(__name__)

INVITE_VALID_FOR = timedelta(days=7)
INVITE_NAME_CHARS = 32  # Telegram's limit on an invite link's name
IN_CHAT = {ChatMember.OWNER, ChatMember.ADMINISTRATOR, ChatMember.MEMBER}

SendReply = Callable[[int, Reply], Awaitable[None]]
T = TypeVar("T")


def in_chat(member: ChatMember) -> bool:
    """Whether this status means being in the chat (a restricted member still is)."""
    if isinstance(member, ChatMemberRestricted):
        return member.is_member
    return member.status in IN_CHAT


class TelegramMembership:
    def __init__(
        self,
        bridge: Bridge,
        bot: ExtBot[Any],
        send: SendReply,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bridge = bridge
        self.bot = bot
        self.send = send
        self.clock = clock

    # --- ChatAdmin -------------------------------------------------------------------------

    async def admit(self, *, chat_id: str, user_id: str, label: str) -> str:
        """A join-request link: whoever uses it still needs the bot's approval, so a link
        passed on to someone else lets nobody in who the store has not approved."""
        link = await self._in_group(
            int(chat_id),
            lambda chat: self.bot.create_chat_invite_link(
                chat,
                name=label[:INVITE_NAME_CHARS] or None,
                expire_date=self.clock() + INVITE_VALID_FOR,
                creates_join_request=True,
            ),
        )
        return link.invite_link

    async def remove(self, *, chat_id: str, user_id: str) -> None:
        """Ban, then lift the ban only if it is one (so someone who already left stays out of
        the chat, and may be invited again later). Not being in the chat is success."""
        person = int(user_id)

        async def ban_and_lift(chat: int) -> None:
            try:
                await self.bot.ban_chat_member(chat, person)
            except BadRequest as exc:
                if not is_not_a_member(exc):
                    raise
                return
            await self.bot.unban_chat_member(chat, person, only_if_banned=True)

        await self._in_group(int(chat_id), ban_and_lift)

    async def members(self, *, chat_id: str) -> set[str] | None:
        return None  # the Bot API does not let bots list a group's members

    async def is_member(self, *, chat_id: str, user_id: str) -> bool | None:
        person = int(user_id)

        async def status(chat: int) -> bool:
            try:
                return in_chat(await self.bot.get_chat_member(chat, person))
            except BadRequest as exc:
                if is_not_a_member(exc):
                    return False
                raise

        try:
            return await self._in_group(int(chat_id), status)
        except Undeliverable as exc:
            log.info("cannot tell who is in Telegram chat %s: %s", chat_id, exc)
            return None

    async def _in_group(self, chat_id: int, call: Callable[[int], Awaitable[T]]) -> T:
        """Run an admin call on a group, following it if it has become a supergroup."""
        try:
            with delivery_errors(forbidden=Undeliverable):
                return await call(chat_id)
        except ChatMigrated as exc:
            await self.migrated(chat_id, exc.new_chat_id)
            with delivery_errors(forbidden=Undeliverable):
                return await call(exc.new_chat_id)

    async def migrated(self, old: int, new: int) -> None:
        log.info("Telegram group %s is now supergroup %s", old, new)
        await self.bridge.dispatch(ChatMoved(PLATFORM, str(old), str(new)))

    # --- updates in ------------------------------------------------------------------------

    def handlers(self) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
        return [
            ChatJoinRequestHandler(self._on_join_request),
            ChatMemberHandler(self._on_chat_member, ChatMemberHandler.CHAT_MEMBER),
            ChatMemberHandler(self._on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER),
            MessageHandler(filters.StatusUpdate.MIGRATE, self._on_migration),
        ]

    async def _on_join_request(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        request = update.chat_join_request
        if request is None:
            return
        decision = await self.bridge.dispatch(
            JoinRequested(user_ref(request.from_user), chat_ref(request.chat))
        )
        if decision.admit is None:  # it could not be decided: admins still can, by hand
            return
        # DM first: the bot may write to someone who never started it only until their
        # request is decided (Telegram's `user_chat_id` window).
        for told in decision.replies:
            try:
                await self.send(request.user_chat_id, told.reply)
            except Forbidden as exc:
                log.info("could not DM Telegram user %s: %s", request.user_chat_id, exc.message)
            except TelegramError as exc:
                log.warning("could not DM Telegram user %s: %s", request.user_chat_id, exc)
        try:
            if decision.admit:
                await request.approve()
            else:
                await request.decline()
        except BadRequest as exc:
            # Another admin decided first, or the person withdrew (HIDE_REQUESTER_MISSING).
            log.info(
                "join request of %s to %s already settled: %s",
                request.from_user.id,
                request.chat.id,
                exc.message,
            )

    async def _on_chat_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.chat_member
        if change is None:
            return
        person = change.new_chat_member.user
        if person.id == self.bot.id:
            return  # the bot's own changes arrive as my_chat_member
        was, now = in_chat(change.old_chat_member), in_chat(change.new_chat_member)
        if now and not was:
            await self.bridge.dispatch(MemberJoined(user_ref(person), chat_ref(change.chat)))
        elif was and not now:
            await self.bridge.dispatch(MemberLeft(user_ref(person), chat_ref(change.chat)))

    async def _on_my_chat_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is None:
            return
        if change.chat.type == Chat.PRIVATE:
            # In a private chat, "kicked" is the person blocking the bot; "member" again is
            # them unblocking (or restarting) it.
            blocked = change.new_chat_member.status == ChatMember.BANNED
            await self.bridge.dispatch(BlockedByUser(user_ref(change.from_user), blocked))
            return
        present = in_chat(change.new_chat_member)
        if present != in_chat(change.old_chat_member):
            event = BotAdded if present else BotRemoved
            await self.bridge.dispatch(event(chat_ref(change.chat), user_ref(change.from_user)))

    async def _on_migration(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None:
            return
        # Telegram posts one service message in the old group and one in the new
        # supergroup; recording the alias is idempotent, so either (or both) will do.
        if message.migrate_to_chat_id is not None:
            await self.migrated(message.chat.id, message.migrate_to_chat_id)
        elif message.migrate_from_chat_id is not None:
            await self.migrated(message.migrate_from_chat_id, message.chat.id)
