"""Group membership rules shared by the commands, chat events and scheduled jobs.

Which real chats a group is bound to, who may be in them, and the queued chat changes and
admin notices that go with every membership change (queued in the caller's transaction, so a
crash can never approve someone without inviting them or record a leave without removing them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers import platforms, reply_codec
from ccin_bridge.handlers import topics as topic_names
from ccin_bridge.handlers.config import GroupConfig, Settings
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.relay_erasure import forget_person as forget_relayed
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.store import audiences, chat_actions, erasure, outbox, people, subscriptions
from ccin_bridge.store import groups as store_groups


def show(platform: str, command_line: str) -> str:
    """A command as people type it on `platform`, for replies that answer no request."""
    return platforms.prefix(platform) + command_line


@dataclass(frozen=True)
class BoundChat:
    platform: str
    chat_id: str


def bound_chats(group: GroupConfig) -> list[BoundChat]:
    """The real chats config binds to a group, by the ids config knows them by."""
    return [BoundChat(platform, c) for platform, ids in group.chats.items() for c in ids]


def find_group(settings: Settings, name: str) -> GroupConfig:
    """The group a person or admin named, by slug or name (`#officers`, `Officer Network`)."""
    wanted = name.strip().casefold().removeprefix("#")
    for group in settings.groups:
        if wanted in (group.slug, group.name.casefold()):
            return group
    known = ", ".join(g.slug for g in settings.groups)
    raise UserFacingError(f"There is no group called “{name[:60]}”. The groups are: {known}.")


def groups_for_chat(settings: Settings, platform: str, chat_id: str) -> list[GroupConfig]:
    """The groups bound to this chat (normally one), by its original id."""
    return [
        g
        for g in settings.groups
        if any(c.platform == platform and c.chat_id == chat_id for c in bound_chats(g))
    ]


async def config_chat_id(session: AsyncSession, platform: str, chat_id: str) -> str:
    """The id config knows a chat by, following a platform migration backwards."""
    return await chat_actions.original_chat(session, platform, chat_id)


async def queue_chat_changes(
    session: AsyncSession,
    *,
    group: GroupConfig,
    person_id: int,
    kind: str,
    platforms: set[str] | None = None,
) -> int:
    """Queue `invite` or `remove` on every bound chat for each of the person's identities on
    that platform (removals go to inactive identities too: blocking the bot is no way in).
    Returns how many were queued."""
    identities = await people.identities_of(
        session, person_id, active_only=kind == chat_actions.INVITE
    )
    queued = 0
    for chat in bound_chats(group):
        for identity in identities:
            if identity.platform != chat.platform or (
                platforms is not None and identity.platform not in platforms
            ):
                continue
            await chat_actions.enqueue(
                session,
                kind=kind,
                person_id=person_id,
                identity_id=identity.id,
                group_slug=group.slug,
                platform=chat.platform,
                chat_id=chat.chat_id,
            )
            queued += 1
    return queued


async def is_approved(session: AsyncSession, person_id: int, groups: list[GroupConfig]) -> bool:
    """True if the person is an active member of any of these groups."""
    for group in groups:
        current = await store_groups.membership(session, person_id, group.slug)
        if current is not None and current.status == store_groups.ACTIVE:
            return True
    return False


async def notify_admins(
    session: AsyncSession,
    settings: Settings,
    reply: Reply,
    *,
    title: str,
    key: str | None = None,
    created_by: int | None = None,
    subject_id: int | None = None,
) -> int | None:
    """Queue a notice to every admin's DM through the outbox (None if nobody to tell);
    `subject_id` is the person it is about, so their erasure redacts it."""
    targets = await audiences.admin_targets(session, settings.admins)
    if not targets:
        return None
    return await outbox.create_push(
        session,
        kind="admin",
        payload=reply_codec.encode(reply),
        targets=targets,
        key=key,
        audience="admins",
        title=title,
        created_by=created_by,
        subject_id=subject_id,
    )


async def notify_person(
    session: AsyncSession,
    person_id: int,
    reply: Reply,
    *,
    title: str,
    key: str | None = None,
    now: datetime | None = None,
) -> int | None:
    """Queue a DM to every active identity of one person."""
    targets = await audiences.person_targets(session, person_id)
    if not targets:
        return None
    return await outbox.create_push(
        session,
        kind="notice",
        payload=reply_codec.encode(reply),
        targets=targets,
        key=key,
        title=title,
        subject_id=person_id,
        now=now,
    )


async def activate(
    session: AsyncSession, *, group: GroupConfig, person_id: int, reason: str | None = None
) -> int:
    """Make a membership active with everything that goes with it: default subscriptions and
    an invitation to each bound chat on every platform the person uses. Returns invites queued."""
    await store_groups.set_membership(
        session, person_id=person_id, slug=group.slug, status=store_groups.ACTIVE, reason=reason
    )
    await subscriptions.apply_group_defaults(session, person_id, group.audience)
    return await queue_chat_changes(
        session, group=group, person_id=person_id, kind=chat_actions.INVITE
    )


@dataclass(frozen=True)
class Departure:
    """What ending a membership did: chat removals queued, and the subscriptions it ended
    (topics, for the reply to say so)."""

    removals: int = 0
    ended: tuple[str, ...] = ()


async def deactivate(
    session: AsyncSession,
    *,
    group: GroupConfig,
    person_id: int,
    status: str,
    settings: Settings,
    reason: str | None = None,
) -> Departure:
    """End a membership (left / removed / declined), take the person out of every bound
    chat on every platform, and end the subscriptions the group brought (`group_topics`).
    Nothing is queued or ended for a request never approved: nobody was let in for it."""
    before = await store_groups.membership(session, person_id, group.slug)
    await store_groups.set_membership(
        session, person_id=person_id, slug=group.slug, status=status, reason=reason
    )
    if before is None or before.status != store_groups.ACTIVE:
        return Departure()
    removals = await queue_chat_changes(
        session, group=group, person_id=person_id, kind=chat_actions.REMOVE
    )
    topics = await group_topics(session, settings, group, person_id)
    ended = await subscriptions.end(session, person_id, topics)
    return Departure(removals, tuple(ended))


async def group_topics(
    session: AsyncSession, settings: Settings, group: GroupConfig, person_id: int
) -> list[str]:
    """The subscriptions that came with `group` and go when the person leaves it: its
    audience's digest (which also carries that audience's announcements), and the network's
    announcements once they are in no group at all. Another group of theirs with the same
    audience keeps the digest; event reminders stay, since events are open to everyone."""
    remaining = [
        m.group_slug
        for m in await store_groups.memberships_of(session, person_id)
        if m.status == store_groups.ACTIVE and m.group_slug != group.slug
    ]
    audiences = {g.audience for g in settings.groups if g.slug in remaining}
    topics = []
    if group.audience and group.audience not in audiences:
        topics.append(subscriptions.digest_topic(group.audience))
    if not remaining:
        topics.append(subscriptions.ANNOUNCEMENTS)
    return topics


def ended_note(settings: Settings, ended: tuple[str, ...]) -> str:
    """What to tell someone whose group subscriptions `deactivate` ended."""
    names = topic_names.listing(settings, list(ended))
    if len(ended) == 1:
        return f"The subscription that came with the group has ended: {names}."
    return f"The subscriptions that came with the group have ended: {names}."


async def forget(session: AsyncSession, settings: Settings, person_id: int, now: datetime) -> int:
    """Erase a person: queue their removal from every bound chat first (the removals keep
    the platform ids they need until done), strip everything else now, and delete the rest as
    soon as no removal is waiting. Returns removals queued."""
    removals = 0
    for membership in await store_groups.memberships_of(session, person_id):
        group = settings.group(membership.group_slug)
        if group is not None and membership.status in store_groups.CURRENT:
            removals += await queue_chat_changes(
                session, group=group, person_id=person_id, kind=chat_actions.REMOVE
            )
    await forget_relayed(session, person_id)
    await erasure.begin_erasure(session, person_id, now)
    await erasure.finish_erasure(session, person_id)
    return removals
