"""Relaying a group's conversation between its bound chats, on every platform.

A message posted in a bound chat of a group whose `relay` is on becomes one relay push
(`handlers/relay_order.py`) with a delivery to each of the group's other bound chats, in the
outbox's ordered lane: each target chat gets them one at a time, in order, and a rate limit
waits rather than drops. Only people the store approved for the group are relayed; for
anyone else admins are told, once a day per person and chat. Bots, and the bridge's own
copies, are never relayed (no loops). Each function is one unit of work.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers import inbox, platforms
from ccin_bridge.handlers.config import GroupConfig
from ccin_bridge.handlers.events import ChatPost, ChatPostDeleted
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.membership import (
    bound_chats,
    config_chat_id,
    groups_for_chat,
    is_approved,
    notify_admins,
    show,
)
from ccin_bridge.handlers.relay_order import Copy, RelayOrder, encode
from ccin_bridge.handlers.replies import Reply, ReplyBuilder, bold
from ccin_bridge.handlers.requests import clean_text
from ccin_bridge.handlers.runtime import Runtime
from ccin_bridge.store import audit, chat_actions, outbox, people
from ccin_bridge.store import relay as store_relay
from ccin_bridge.store.outbox import Target

log = logging.getLogger(__name__)


def label(platform: str) -> str:
    spec = platforms.find(platform)
    return spec.label if spec is not None else platform


async def relays_in(bridge: Runtime, chat: ChatRef) -> bool:
    """Whether a message in this chat may be relayed, cheaply, before anything is written or
    asked of a platform: from settings alone, unless the chat may be one a platform moved
    (its config id then comes from the store, read only)."""
    if chat.is_private:
        return False
    bound = {
        c.chat_id
        for g in bridge.settings.groups
        if g.relay
        for c in bound_chats(g)
        if c.platform == chat.platform
    }
    if chat.chat_id in bound:
        return True
    if not bound:
        return False
    async with bridge.db.read() as session:
        return await config_chat_id(session, chat.platform, chat.chat_id) in bound


async def _relaying_groups(
    bridge: Runtime, session: AsyncSession, chat: ChatRef
) -> list[GroupConfig]:
    original = await config_chat_id(session, chat.platform, chat.chat_id)
    return [g for g in groups_for_chat(bridge.settings, chat.platform, original) if g.relay]


async def _targets(
    session: AsyncSession, groups: list[GroupConfig], source: ChatRef
) -> list[Target]:
    """Every other bound chat of these groups, by the id the platform uses now."""
    original = await config_chat_id(session, source.platform, source.chat_id)
    seen: set[tuple[str, str]] = {(source.platform, original), (source.platform, source.chat_id)}
    targets = []
    for group in groups:
        for chat in bound_chats(group):
            if (chat.platform, chat.chat_id) in seen:
                continue
            seen.add((chat.platform, chat.chat_id))
            current = await chat_actions.resolve_chat(session, chat.platform, chat.chat_id)
            targets.append(Target(chat.platform, current, is_private=False))
    return targets


async def posted(bridge: Runtime, event: ChatPost) -> None:
    """A message (or a new version of one) in a group chat: relay it if its group relays."""
    if event.from_bot or not await relays_in(bridge, event.chat):
        return
    async with inbox.once(bridge.db) as session:
        if session is None:  # relayed before a restart
            return
        groups = await _relaying_groups(bridge, session, event.chat)
        if not groups:
            return
        chat = event.chat
        if await store_relay.is_copy(session, chat.platform, chat.chat_id, event.message_id):
            return  # one of our own copies, seen again: never relayed twice
        sender = await store_relay.sender(session, event.user.platform, event.user.user_id)
        # A chat bound to several groups: relayed only to the chats of those they are in.
        approved = []
        if sender is not None and not sender.forgetting:
            approved = [g for g in groups if await is_approved(session, sender.person_id, [g])]
        if sender is None or not approved:
            await _unapproved(bridge, session, event, groups, sender)
            return
        groups = approved
        copy = Copy(_author(sender), label(chat.platform), Reply(event.blocks))
        targets = await _targets(session, groups, chat)
        if event.edited:
            relayed = await store_relay.find(session, chat.platform, chat.chat_id, event.message_id)
            if relayed is None or relayed.person_id != sender.person_id:
                return  # posted before relaying began, or not theirs to change
            order = RelayOrder("edit", relayed.id, copy)
        else:
            relay_id = await store_relay.record_original(
                session,
                group_slug=groups[0].slug,
                platform=chat.platform,
                chat_id=chat.chat_id,
                message_id=event.message_id,
                person_id=sender.person_id,
            )
            if relay_id is None:
                return  # the platform told us twice
            parent = None
            if event.reply_to is not None:
                parent = await store_relay.find(
                    session, chat.platform, chat.chat_id, event.reply_to
                )
            order = RelayOrder("post", relay_id, copy, parent.id if parent is not None else None)
        if targets:
            await outbox.create_push(
                session,
                kind="relay",
                payload=encode(order),
                targets=targets,
                title=f"Relayed from {label(chat.platform)}",
                subject_id=sender.person_id,
                lane=outbox.RELAY,
            )


async def deleted(bridge: Runtime, event: ChatPostDeleted) -> None:
    """A relayed message was deleted. Its original: it goes from every other chat too (its
    author's or a chat admin's doing, as the platform allowed). One of its copies: only that
    copy is forgotten, as no platform need say who deleted it, so it proves no right to
    delete the original or the other copies."""
    if not await relays_in(bridge, event.chat):
        return
    async with inbox.once(bridge.db) as session:
        if session is None:
            return
        chat = event.chat
        relayed = await store_relay.find(session, chat.platform, chat.chat_id, event.message_id)
        if relayed is None:
            return
        if (relayed.platform, relayed.chat_id) != (chat.platform, chat.chat_id):
            await store_relay.forget_copy(
                session, relay_id=relayed.id, platform=chat.platform, chat_id=chat.chat_id
            )
            return
        groups = [g for g in bridge.settings.groups if g.slug == relayed.group_slug]
        targets = await _targets(session, groups, chat)
        if targets:
            await outbox.create_push(
                session,
                kind="relay",
                payload=encode(RelayOrder("delete", relayed.id)),
                targets=targets,
                title=f"Deleted on {label(chat.platform)}",
                subject_id=relayed.person_id,
                lane=outbox.RELAY,
            )


def _author(sender: store_relay.Sender) -> str:
    name = sender.name or "A member"
    return f"{name}, {sender.organisation}" if sender.organisation else name


async def _unapproved(
    bridge: Runtime,
    session: AsyncSession,
    event: ChatPost,
    groups: list[GroupConfig],
    sender: store_relay.Sender | None,
) -> None:
    """Not relayed; admins hear of it once a day per person and chat, as for a join."""
    user, chat = event.user, event.chat
    name, username = clean_text(user.display_name)[:200], clean_text(user.username or "")[:64]
    who = name or username or "someone the bridge has not met"
    handle = f" (@{username})" if username else ""
    day = datetime.now(UTC).date().isoformat()
    reply = (
        ReplyBuilder()
        .heading("A message was not relayed")
        .para(
            bold(who + handle),
            f" posted in the {label(chat.platform)} chat of ",
            bold(", ".join(g.name for g in groups)),
            " but has no approved membership, so their messages stay in that chat.",
        )
        .para(f"Ask them to {show(chat.platform, 'join ' + groups[0].slug)}, or remove them.")
        .build(private=True)
    )
    person_id = sender.person_id if sender is not None else None
    notified = await notify_admins(
        session,
        bridge.settings,
        reply,
        title="Message not relayed",
        key=f"relay-unapproved:{user.key}:{chat.chat_id}:{day}"[:160],
        subject_id=person_id,
    )
    if notified is not None:
        await people.note_names(
            session, platform=user.platform, external_id=user.user_id, names=(name, username)
        )
        await audit.record(
            session,
            actor_id=None,
            action="relay.unapproved",
            subject_id=person_id,
            person=person_id,
            platform=chat.platform,
            groups=[g.slug for g in groups],
        )
