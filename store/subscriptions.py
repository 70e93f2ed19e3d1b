"""Subscriptions: each person's choice per topic, for every platform they use.

Topics are `digest:<audience-slug>` (the monthly digest for one audience), `reminders` (event
reminders) and `announcements` (admin broadcasts). A row with `wanted` false is an explicit
opt-out: group defaults never turn it back on. A row a group's defaults made is marked
(`source` GROUP): leaving the group ends only those, never what the person chose themselves.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, and_, bindparam, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ccin_bridge.store.models import Identity, Subscription, utcnow
from ccin_bridge.store.outbox import Target

REMINDERS = "reminders"
ANNOUNCEMENTS = "announcements"
DIGEST_PREFIX = "digest:"
GROUP = "group"  # Subscription.source: made by a group's defaults, not by the person


def digest_topic(audience_slug: str) -> str:
    return DIGEST_PREFIX + audience_slug


_SUBSCRIPTIONS = cast(Table, Subscription.__table__)
_TOPICS_OF = (
    select(_SUBSCRIPTIONS.c.topic, _SUBSCRIPTIONS.c.wanted)
    .where(_SUBSCRIPTIONS.c.person_id == bindparam("person_id"))
    .order_by(_SUBSCRIPTIONS.c.topic)
)
_CHOICE = select(_SUBSCRIPTIONS.c.id, _SUBSCRIPTIONS.c.wanted, _SUBSCRIPTIONS.c.source).where(
    _SUBSCRIPTIONS.c.person_id == bindparam("person_id"),
    _SUBSCRIPTIONS.c.topic == bindparam("topic"),
)


async def topics_of(session: AsyncSession, person_id: int) -> dict[str, bool]:
    """Every topic this person has chosen about: True subscribed, False opted out."""
    rows = await session.execute(_TOPICS_OF, {"person_id": person_id})
    return {topic: bool(wanted) for topic, wanted in rows.all()}


async def set_wanted(session: AsyncSession, person_id: int, topic: str, wanted: bool) -> bool:
    """Record the person's own choice; returns whether `wanted` changed. Choosing a topic a
    group's defaults subscribed them to makes it theirs: leaving the group no longer ends it."""
    found = (await session.execute(_CHOICE, {"person_id": person_id, "topic": topic})).first()
    if found is None:
        session.add(
            Subscription(person_id=person_id, topic=topic, wanted=wanted, created_at=utcnow())
        )
        await session.flush()
        return True
    choice_id, was_wanted, source = found
    if bool(was_wanted) == wanted and source is None:
        return False
    await session.execute(
        update(Subscription).where(Subscription.id == choice_id).values(wanted=wanted, source=None)
    )
    return bool(was_wanted) != wanted


async def apply_group_defaults(
    session: AsyncSession, person_id: int, audience_slug: str | None
) -> list[str]:
    """Subscribe a new group member to the group's digest, reminders and announcements.

    Called when a membership becomes active. A topic the person has already chosen about
    (either way) is left alone, so an explicit opt-out is never overridden, nor is a choice
    of theirs marked as the group's. Returns the topics newly subscribed.
    """
    wanted = [REMINDERS, ANNOUNCEMENTS]
    if audience_slug:
        wanted.insert(0, digest_topic(audience_slug))
    chosen = await topics_of(session, person_id)
    added = [t for t in wanted if t not in chosen]
    for topic in added:
        session.add(
            Subscription(
                person_id=person_id, topic=topic, wanted=True, source=GROUP, created_at=utcnow()
            )
        )
    if added:
        await session.flush()
    return added


async def end(session: AsyncSession, person_id: int, topics: list[str]) -> list[str]:
    """End these subscriptions where a group's defaults made them (someone left the group they
    came with); returns the topics that ended. The row is forgotten rather than turned into an
    opt-out, so joining again brings the group's defaults back; an explicit opt-out, and a
    subscription the person chose themselves, are kept as they are."""
    if not topics:
        return []
    ended = list(
        await session.scalars(
            delete(Subscription)
            .where(
                Subscription.person_id == person_id,
                Subscription.topic.in_(topics),
                Subscription.wanted.is_(True),
                Subscription.source == GROUP,
            )
            .returning(Subscription.topic)
        )
    )
    return [t for t in topics if t in ended]


async def broadcast_targets(session: AsyncSession, audience_slug: str | None) -> list[Target]:
    """Who an admin broadcast reaches, one target per active identity.

    An audience's broadcast goes to that audience's digest subscribers (the audience's mailing
    list) unless they opted out of announcements; a broadcast to everyone (`None`) goes to
    whoever subscribes to announcements.
    """
    choice = aliased(Subscription)  # the opt-out check must not correlate with the join
    opted_out = exists().where(
        and_(
            choice.person_id == Identity.person_id,
            choice.topic == ANNOUNCEMENTS,
            choice.wanted.is_(False),
        )
    )
    topic = digest_topic(audience_slug) if audience_slug else ANNOUNCEMENTS
    statement = (
        select(Identity)
        .join(Subscription, Subscription.person_id == Identity.person_id)
        .where(
            Subscription.topic == topic,
            Subscription.wanted.is_(True),
            Identity.active.is_(True),
        )
        .order_by(Identity.id)
    )
    if audience_slug:
        statement = statement.where(~opted_out)
    rows = await session.scalars(statement)
    return [Target(i.platform, i.external_id, i.id, is_private=True) for i in rows]


async def digest_targets(session: AsyncSession, audience_slugs: list[str]) -> list[Target]:
    """Everyone who takes any of these digests, each identity once (the news reminder)."""
    topics = [digest_topic(a) for a in audience_slugs]
    rows = await session.scalars(
        select(Identity)
        .where(
            Identity.active.is_(True),
            exists().where(
                Subscription.person_id == Identity.person_id,
                Subscription.topic.in_(topics),
                Subscription.wanted.is_(True),
            ),
        )
        .order_by(Identity.id)
    )
    return [Target(i.platform, i.external_id, i.id, is_private=True) for i in rows]
