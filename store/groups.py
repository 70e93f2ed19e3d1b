"""Groups, memberships and rules-of-engagement consents (settings: store/group_settings.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.group_settings import GroupSpec as GroupSpec
from ccin_bridge.store.group_settings import sync_groups as sync_groups
from ccin_bridge.store.models import (
    Consent,
    Group,
    Identity,
    Membership,
    Organisation,
    Person,
    utcnow,
)
from ccin_bridge.store.records import MembershipRecord

# A membership moves pending -> active (or declined); active -> left | removed.
PENDING, ACTIVE, DECLINED, LEFT, REMOVED = "pending", "active", "declined", "left", "removed"
CURRENT = (PENDING, ACTIVE)


async def _group(session: AsyncSession, slug: str) -> Group:
    group = await session.scalar(select(Group).where(Group.slug == slug))
    if group is None:
        raise LookupError(f"group {slug!r} is not in the store; was config synced?")
    return group


_MEMBERSHIPS = cast(Table, Membership.__table__)
_GROUPS = cast(Table, Group.__table__)
# Built once and read as plain rows: /groups and /home run it for every request.
_MEMBERSHIPS_OF = (
    select(_GROUPS.c.slug, _MEMBERSHIPS.c.status, _MEMBERSHIPS.c.reason, _MEMBERSHIPS.c.updated_at)
    .select_from(_MEMBERSHIPS.join(_GROUPS, _GROUPS.c.id == _MEMBERSHIPS.c.group_id))
    .where(_MEMBERSHIPS.c.person_id == bindparam("person_id"))
    .order_by(_GROUPS.c.slug)
)


async def memberships_of(session: AsyncSession, person_id: int) -> list[MembershipRecord]:
    rows = await session.execute(_MEMBERSHIPS_OF, {"person_id": person_id})
    return [MembershipRecord(*row) for row in rows.all()]


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


async def set_role(session: AsyncSession, *, person_id: int, slug: str, role: str | None) -> None:
    """The role given when joining this group; the person's other memberships keep theirs.
    (`set_membership` leaves it alone, so approving or leaving never rewrites it.)"""
    group = await _group(session, slug)
    row = await session.scalar(
        select(Membership).where(Membership.person_id == person_id, Membership.group_id == group.id)
    )
    if row is None:
        raise LookupError(f"person {person_id} has no membership of {slug!r}")
    row.role = role
    await session.flush()


async def record_consent(
    session: AsyncSession,
    *,
    person_id: int,
    slug: str,
    platform: str,
    expected_version: int | None = None,
) -> int | None:
    """Record acceptance of the group's current rules; returns the version accepted. Given
    `expected_version` (the version the person was shown), nothing is recorded and None
    returned when the current version is another: an old "I accept" never accepts newer rules."""
    group = await _group(session, slug)
    if expected_version is not None and expected_version != group.rules_version:
        return None
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


# --- requests and members, for admins --------------------------------------------------------


@dataclass(frozen=True)
class MemberRow:
    """One membership with what an admin needs to judge it (request id = membership id)."""

    request_id: int
    person_id: int
    group_slug: str
    status: str
    reason: str | None
    display_name: str
    organisation: str | None
    member_type: str | None
    role: str | None
    platforms: tuple[str, ...]
    accepted_version: int | None
    rules_version: int
    created_at: datetime
    updated_at: datetime


async def _rows(session: AsyncSession, *conditions: Any) -> list[MemberRow]:
    query = (
        select(Membership, Group, Person, Organisation)
        .join(Group, Group.id == Membership.group_id)
        .join(Person, Person.id == Membership.person_id)
        .outerjoin(Organisation, Organisation.id == Person.organisation_id)
        .where(*conditions)
        .order_by(Membership.created_at, Membership.id)
    )
    result = []
    for m, g, p, org in (await session.execute(query)).all():
        platforms = await session.scalars(
            select(Identity.platform)
            .where(Identity.person_id == p.id, Identity.active.is_(True))
            .distinct()
        )
        accepted = await session.scalar(
            select(func.max(Consent.rules_version)).where(
                Consent.person_id == p.id, Consent.group_id == g.id
            )
        )
        result.append(
            MemberRow(
                request_id=m.id,
                person_id=p.id,
                group_slug=g.slug,
                status=m.status,
                reason=m.reason,
                display_name=p.display_name,
                organisation=org.name if org else None,
                member_type=org.member_type if org else None,
                role=m.role,
                platforms=tuple(sorted(platforms)),
                accepted_version=accepted,
                rules_version=g.rules_version,
                created_at=m.created_at,
                updated_at=m.updated_at,
            )
        )
    return result


async def pending_requests(session: AsyncSession) -> list[MemberRow]:
    return await _rows(session, Membership.status == PENDING)


async def request(session: AsyncSession, request_id: int) -> MemberRow | None:
    rows = await _rows(session, Membership.id == request_id)
    return rows[0] if rows else None


async def members(session: AsyncSession, slug: str, statuses: Iterable[str]) -> list[MemberRow]:
    return await _rows(session, Group.slug == slug, Membership.status.in_(list(statuses)))


async def members_needing_consent(session: AsyncSession) -> list[MemberRow]:
    """Active members whose latest accepted rules are older than their group's rules."""
    return [
        row
        for row in await _rows(session, Membership.status == ACTIVE)
        if (row.accepted_version or 0) < row.rules_version
    ]


async def active_member_ids(session: AsyncSession, slug: str) -> set[int]:
    rows = await session.scalars(
        select(Membership.person_id)
        .join(Group, Group.id == Membership.group_id)
        .where(Group.slug == slug, Membership.status == ACTIVE)
    )
    return set(rows)


async def counts_by_platform(session: AsyncSession) -> dict[str, dict[str, int]]:
    """Active members per group and platform (a person on two platforms counts on both)."""
    rows = await session.execute(
        select(Group.slug, Identity.platform, func.count(func.distinct(Membership.person_id)))
        .join(Membership, Membership.group_id == Group.id)
        .join(Identity, Identity.person_id == Membership.person_id)
        .where(Membership.status == ACTIVE)
        .group_by(Group.slug, Identity.platform)
    )
    counts: dict[str, dict[str, int]] = {}
    for slug, platform, n in rows:
        counts.setdefault(slug, {})[platform] = int(n)
    return counts


async def count_by_status(session: AsyncSession) -> dict[tuple[str, str], int]:
    rows = await session.execute(
        select(Group.slug, Membership.status, func.count())
        .join(Membership, Membership.group_id == Group.id)
        .group_by(Group.slug, Membership.status)
    )
    return {(slug, status): int(n) for slug, status, n in rows}


async def rules_version(session: AsyncSession, slug: str) -> int:
    """The group's current rules version (config's, or a newer one an admin saved)."""
    return (await _group(session, slug)).rules_version
