"""The rules for what a platform tells us about a chat or a person.

Adapters translate (a Telegram `chat_join_request`, a Slack `member_joined_channel`, ...) into
an event (handlers/events.py) for `Bridge.dispatch`, which calls these and contains any
exception, as it does for commands. Each function is one unit of work (committed on return).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers import inbox
from ccin_bridge.handlers.config import GroupConfig
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.membership import (
    config_chat_id,
    groups_for_chat,
    is_approved,
    notify_admins,
    show,
)
from ccin_bridge.handlers.replies import Reply, ReplyBuilder, bold
from ccin_bridge.handlers.requests import clean_text
from ccin_bridge.handlers.runtime import Runtime
from ccin_bridge.store import audit, chat_actions, people

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JoinDecision:
    """Whether to let someone asking to join a chat in, and what to DM them."""

    approve: bool
    message: Reply | None = None


def _names(groups: list[GroupConfig]) -> str:
    return ", ".join(g.name for g in groups)


async def join_request(bridge: Runtime, *, chat: ChatRef, user: UserRef) -> JoinDecision:
    """Approve only people with an active membership in the group bound to this chat."""
    async with inbox.once(bridge.db) as session:
        if session is None:  # decided before a restart: the same answer, recorded once
            async with bridge.db.read() as reader:
                approved, groups, _ = await _may_join(bridge, reader, chat, user)
        else:
            approved, groups, person_id = await _may_join(bridge, session, chat, user)
            await audit.record(
                session,
                actor_id=None,
                action="chat.join_request",
                subject_id=person_id,
                person=person_id,
                platform=chat.platform,
                groups=[g.slug for g in groups],
                approved=approved,
            )
    if approved:
        return JoinDecision(True, None)
    builder = ReplyBuilder()
    if groups:
        group = groups[0]
        builder.para(
            "Thank you for your interest in ",
            bold(group.name),
            ". This chat is open to approved members only, so I could not let you in yet.",
        ).para(
            f"To join, send me {show(chat.platform, 'join ' + group.slug)}: you will see the "
            "rules of engagement, and once you are approved I will send you an invitation."
        )
    else:
        builder.para(
            "This chat is not one of the network's groups, so I cannot let anyone in. "
            f"Send me {show(chat.platform, 'groups')} to see the groups you can join."
        )
    return JoinDecision(False, builder.build(private=True))


async def _may_join(
    bridge: Runtime, session: AsyncSession, chat: ChatRef, user: UserRef
) -> tuple[bool, list[GroupConfig], int | None]:
    """Whether they may join, the chat's groups, and their person's id if the bridge knows them."""
    original = await config_chat_id(session, chat.platform, chat.chat_id)
    groups = groups_for_chat(bridge.settings, chat.platform, original)
    person = await people.find_person(session, user.platform, user.user_id)
    approved = bool(groups) and person is not None and await is_approved(session, person.id, groups)
    return approved, groups, person.id if person is not None else None


async def member_joined(bridge: Runtime, *, chat: ChatRef, user: UserRef) -> None:
    """Someone appeared in a bound chat: tell admins if the store never approved them."""
    async with inbox.once(bridge.db) as session:
        if session is None:  # told before a restart
            return
        original = await config_chat_id(session, chat.platform, chat.chat_id)
        groups = groups_for_chat(bridge.settings, chat.platform, original)
        if not groups:
            return
        person = await people.find_person(session, user.platform, user.user_id)
        if person is not None and await is_approved(session, person.id, groups):
            return
        # Straight from the platform: cleaned and capped like every name the bridge stores.
        name, username = clean_text(user.display_name)[:200], clean_text(user.username or "")[:64]
        await people.note_names(
            session, platform=user.platform, external_id=user.user_id, names=(name, username)
        )
        who = name or username or "someone the bridge has not met"
        handle = f" (@{username})" if username else ""
        reply = (
            ReplyBuilder()
            .heading("Someone joined without approval")
            .para(
                bold(who + handle),
                f" is now in the {chat.platform} chat of ",
                bold(_names(groups)),
                " but has no approved membership.",
            )
            .para(
                "They may have been added by a member or used an old link. Ask them to "
                f"{show(chat.platform, 'join ' + groups[0].slug)}, or remove them from the chat."
            )
            .build(private=True)
        )
        await notify_admins(
            session,
            bridge.settings,
            reply,
            title="Unapproved chat member",
            subject_id=person.id if person is not None else None,
        )
        await audit.record(
            session,
            actor_id=None,
            action="chat.unapproved_member",
            subject_id=person.id if person is not None else None,
            person=person.id if person is not None else None,
            platform=chat.platform,
            groups=[g.slug for g in groups],
        )


async def member_left(bridge: Runtime, *, chat: ChatRef, user: UserRef) -> None:
    """Someone left a bound chat themselves. Their membership stands (they may come back
    through their invitation); we only note it, so reconciliation can tell admins."""
    async with inbox.once(bridge.db) as session:
        if session is None:  # noted before a restart
            return
        original = await config_chat_id(session, chat.platform, chat.chat_id)
        groups = groups_for_chat(bridge.settings, chat.platform, original)
        if not groups:
            return
        person = await people.find_person(session, user.platform, user.user_id)
        await audit.record(
            session,
            actor_id=None,
            action="chat.member_left",
            subject_id=person.id if person is not None else None,
            person=person.id if person is not None else None,
            platform=chat.platform,
            groups=[g.slug for g in groups],
        )


async def bot_membership(
    bridge: Runtime, *, chat: ChatRef, present: bool, by: UserRef | None
) -> None:
    """The bot was added to or removed from a chat; admins hear when a bound chat is lost."""
    async with inbox.once(bridge.db) as session:
        if session is None:  # recorded before a restart
            return
        original = await config_chat_id(session, chat.platform, chat.chat_id)
        groups = groups_for_chat(bridge.settings, chat.platform, original)
        actor = (
            await people.find_person(session, by.platform, by.user_id) if by is not None else None
        )
        await audit.record(
            session,
            actor_id=actor.id if actor is not None else None,
            action="chat.bot_added" if present else "chat.bot_removed",
            platform=chat.platform,
            chat=original,
            groups=[g.slug for g in groups],
        )
        if present or not groups:
            return
        reply = (
            ReplyBuilder()
            .heading("The bot was removed from a group chat")
            .para(
                f"I am no longer in the {chat.platform} chat of ",
                bold(_names(groups)),
                ", so I cannot invite or remove people there until I am added back as an admin.",
            )
            .build(private=True)
        )
        await notify_admins(session, bridge.settings, reply, title="Bot removed from a chat")


async def bot_blocked(bridge: Runtime, *, user: UserRef, blocked: bool) -> None:
    """A person blocked (or unblocked) the bot: their identity stops (or resumes) receiving."""
    async with bridge.db.session() as session:
        await people.set_active(
            session, platform=user.platform, external_id=user.user_id, active=not blocked
        )


async def chat_migrated(
    bridge: Runtime, *, platform: str, old_chat_id: str, new_chat_id: str
) -> None:
    """The platform gave a chat a new id; config keeps the old one, so record the alias."""
    if old_chat_id == new_chat_id:
        return
    async with bridge.db.session() as session:
        await chat_actions.record_migration(session, platform, old_chat_id, new_chat_id)
        await audit.record(
            session,
            actor_id=None,
            action="chat.migrated",
            platform=platform,
            old_chat=old_chat_id,
            new_chat=new_chat_id,
        )
