"""Groups mirrored from config, memberships and rules-of-engagement consents."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Consent, Group, Membership, utcnow
from store.records import MembershipRecord

# A membership moves pending -> active (or declined); active -> left | removed.
PENDING, ACTIVE, DECLINED, LEFT, REMOVED = "pending", "active", "declined", "left", "removed"
CURRENT = (PENDING, ACTIVE)


@dataclass(frozen=True)
class GroupSpec:
    slug: str
    name: str
    rules_version: int


async def sync_groups(session: AsyncSession, specs: Iterable[GroupSpec]) -> None:
    """Make the groups table match config (groups removed from config are kept for history)."""
    existing = {g.slug: g for g in await session.scalars(select(Group))}
    for spec in specs:
        group = existing.get(spec.slug)
        if group is None:
            session.add(Group(slug=spec.slug, name=spec.name, rules_version=spec.rules_version))
        else:
            group.name = spec.name
            group.rules_version = spec.rules_version
    await session.flush()


async def _group(session: AsyncSession, slug: str) -> Group:
    group = await session.scalar(select(Group).where(Group.slug == slug))
    if group is None:
        raise LookupError(f"group {slug!r} is not in the store; was config synced?")
    return group


async def memberships_of(session: AsyncSession, person_id: int) -> list[MembershipRecord]:
    rows = await session.execute(
        select(Membership, Group.slug)
        .join(Group, Group.id == Membership.group_id)
        .where(Membership.person_id == person_id)
        .order_by(Group.slug)
    )
    return [
        MembershipRecord(group_slug=slug, status=m.status, reason=m.reason, updated_at=m.updated_at)
        for m, slug in rows
    ]


async def membership(session: AsyncSession, person_id: int, slug: str) -> MembershipRecord | None:
    return next((m for m in await memberships_of(session, person_id) if m.group_slug == slug), None)


async def set_membership(
    session: AsyncSession, *, person_id: int, slug: str, status: str, reason: str | None = None
) -> MembershipRecord:
    group = await _group(session, slug)
    row = await session.scalar(
        select(Membership).where(Membership.person_id == person_id, Membership.group_id == group.id)
    )
    now = utcnow()
    if row is None:
        row = Membership(person_id=person_id, group_id=group.id, created_at=now)
        session.add(row)
    row.status, row.reason, row.updated_at = status, reason, now
    await session.flush()
    return MembershipRecord(group_slug=slug, status=status, reason=reason, updated_at=now)


async def record_consent(session: AsyncSession, *, person_id: int, slug: str, platform: str) -> int:
    """Record acceptance of the group's current rules; returns the version accepted."""
    group = await _group(session, slug)
    session.add(
        Consent(
            person_id=person_id,
            group_id=group.id,
            rules_version=group.rules_version,
            platform=platform,
            accepted_at=utcnow(),
        )
    )
    return group.rules_version


async def accepted_version(session: AsyncSession, person_id: int, slug: str) -> int | None:
    group = await _group(session, slug)
    return await session.scalar(
        select(Consent.rules_version)
        .where(Consent.person_id == person_id, Consent.group_id == group.id)
        .order_by(Consent.rules_version.desc())
        .limit(1)
    )
