"""What the console's Engagement charts are drawn from: counts and the times of changes, read
from the memberships, the audit log, subscriptions and the outbox.

The store keeps no history of memberships of its own: each membership row has the time it
was made and last changed, and the audit log has when each join, approval, leave and
removal happened. handlers/engagement.py derives the members at each month's end from them.
Person ids are read only to count each person once; nothing here leaves with a name.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import (
    AuditEntry,
    Delivery,
    Group,
    Identity,
    Membership,
    Push,
    Subscription,
)
from ccin_bridge.store.subscriptions import DIGEST_PREFIX

# Audit actions that make someone a member, and that end it; by whom the entry is about
# (the person acting themselves, or the subject of an admin's action).
JOINS = {"group.join": "actor", "admin.approve": "subject"}
LEAVES = {"group.leave": "actor", "admin.remove": "subject"}
REQUESTED, APPROVED, DECLINED = "group.request", "admin.approve", "admin.decline"


@dataclass(frozen=True)
class MembershipRow:
    person_id: int
    group: str
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Change:
    """A join or leave from the audit log."""

    at: datetime
    person_id: int
    group: str
    joined: bool


@dataclass(frozen=True)
class Decision:
    requested_at: datetime
    decided_at: datetime
    approved: bool


@dataclass(frozen=True)
class PushCounts:
    id: int
    kind: str
    title: str
    created_at: datetime
    recipients: int
    delivered: int


async def memberships(session: AsyncSession) -> list[MembershipRow]:
    rows = await session.execute(
        select(
            Membership.person_id,
            Group.slug,
            Membership.status,
            Membership.created_at,
            Membership.updated_at,
        ).join(Group, Group.id == Membership.group_id)
    )
    return [MembershipRow(int(p), str(g), str(s), c, u) for p, g, s, c, u in rows]


async def platforms_of_people(session: AsyncSession) -> dict[int, set[str]]:
    """The platforms each person has an account on (one on two counts on both)."""
    rows = await session.execute(select(Identity.person_id, Identity.platform).distinct())
    found: dict[int, set[str]] = {}
    for person_id, platform in rows:
        found.setdefault(int(person_id), set()).add(str(platform))
    return found


async def membership_changes(session: AsyncSession) -> list[Change]:
    """Joins and leaves in the audit log, oldest first (entries whose person was erased have
    no person left to count, and are skipped)."""
    rows = await session.execute(
        select(
            AuditEntry.at,
            AuditEntry.action,
            AuditEntry.actor_id,
            AuditEntry.subject_id,
            AuditEntry.detail,
        )
        .where(AuditEntry.action.in_([*JOINS, *LEAVES]))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    found = []
    for at, action, actor, subject, detail in rows:
        whose = (JOINS | LEAVES)[action]
        person = actor if whose == "actor" else subject
        group = (detail or {}).get("group")
        if person is None or not isinstance(group, str):
            continue
        found.append(Change(at, int(person), group, action in JOINS))
    return found


async def decisions(session: AsyncSession) -> list[Decision]:
    """Each join request with its decision, from the audit log (by request number)."""
    rows = await session.execute(
        select(AuditEntry.at, AuditEntry.action, AuditEntry.detail)
        .where(AuditEntry.action.in_([REQUESTED, APPROVED, DECLINED]))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    asked: dict[int, datetime] = {}
    found = []
    for at, action, detail in rows:
        request = (detail or {}).get("request")
        if not isinstance(request, int):
            continue
        if action == REQUESTED:
            asked[request] = at
        elif request in asked:
            found.append(Decision(asked.pop(request), at, action == APPROVED))
    return found


async def subscribers(session: AsyncSession) -> dict[str, dict[str, int]]:
    """People who take each audience's digest, by platform of their accounts still open to
    the bot ("" counts each person once)."""
    audience = func.substr(Subscription.topic, len(DIGEST_PREFIX) + 1)
    wanted = (
        Subscription.topic.startswith(DIGEST_PREFIX),
        Subscription.wanted.is_(True),
        Identity.active.is_(True),
    )
    people = func.count(func.distinct(Subscription.person_id))
    found: dict[str, dict[str, int]] = {}
    for column in (Identity.platform, None):
        keys = [audience] if column is None else [audience, column]
        rows = await session.execute(
            select(*keys, people)
            .join(Identity, Identity.person_id == Subscription.person_id)
            .where(*wanted)
            .group_by(*keys)
        )
        for row in rows:
            platform = "" if column is None else str(row[1])
            found.setdefault(str(row[0]), {})[platform] = int(row[-1])
    return found


async def pushes(
    session: AsyncSession, kinds: Collection[str], limit: int = 12
) -> list[PushCounts]:
    """The newest pushes of these kinds, with their recipients and how many got them."""
    delivered = func.sum(case((Delivery.status == "sent", 1), else_=0))
    # The newest pushes first, and only their deliveries counted (not every push's).
    newest = (
        select(Push.id)
        .where(Push.kind.in_(list(kinds)))
        .order_by(Push.created_at.desc(), Push.id.desc())
        .limit(limit)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Push.id, Push.kind, Push.title, Push.created_at, func.count(Delivery.id), delivered)
        .outerjoin(Delivery, Delivery.push_id == Push.id)
        .where(Push.id.in_(newest))
        .group_by(Push.id, Push.kind, Push.title, Push.created_at)
        .order_by(Push.created_at.desc(), Push.id.desc())
        .limit(limit)
    )
    return [PushCounts(int(i), str(k), str(t), c, int(n), int(d or 0)) for i, k, t, c, n, d in rows]
