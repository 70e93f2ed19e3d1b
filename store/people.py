"""People and their platform identities."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    AuditEntry,
    Consent,
    Group,
    Identity,
    Membership,
    Organisation,
    Person,
    Subscription,
    utcnow,
)
from store.records import PersonRecord


async def touch_identity(
    session: AsyncSession,
    *,
    platform: str,
    external_id: str,
    display_name: str,
    username: str | None,
) -> PersonRecord:
    """Find or create the person behind an account, refreshing the names we show back."""
    identity = await session.scalar(
        select(Identity).where(Identity.platform == platform, Identity.external_id == external_id)
    )
    now = utcnow()
    if identity is None:
        person = Person(display_name=display_name, created_at=now, last_seen_at=now)
        identity = Identity(
            person=person,
            platform=platform,
            external_id=external_id,
            display_name=display_name,
            username=username,
        )
        session.add(identity)
        await session.flush()
    else:
        person = await session.get_one(Person, identity.person_id)
        identity.display_name = display_name or identity.display_name
        identity.username = username
        identity.active = True
        person.last_seen_at = now
        if display_name and not person.display_name:
            person.display_name = display_name
    return await person_record(session, person)


async def person_record(session: AsyncSession, person: Person) -> PersonRecord:
    organisation = (
        await session.get(Organisation, person.organisation_id) if person.organisation_id else None
    )
    return PersonRecord(
        id=person.id,
        display_name=person.display_name,
        is_admin=person.is_admin,
        organisation=organisation.name if organisation else None,
        role=person.role,
    )


async def find_person(session: AsyncSession, platform: str, external_id: str) -> Person | None:
    identity = await session.scalar(
        select(Identity).where(Identity.platform == platform, Identity.external_id == external_id)
    )
    return None if identity is None else await session.get(Person, identity.person_id)


async def set_admin(
    session: AsyncSession, *, platform: str, external_id: str, is_admin: bool
) -> PersonRecord:
    """Grant or revoke admin rights on the person behind an account (created if new)."""
    record = await touch_identity(
        session, platform=platform, external_id=external_id, display_name="", username=None
    )
    person = await session.get_one(Person, record.id)
    person.is_admin = is_admin
    return await person_record(session, person)


async def export_person(session: AsyncSession, person_id: int) -> dict[str, Any]:
    """Everything the store holds about one person, as JSON-ready data (UK GDPR access)."""
    person = await session.get_one(Person, person_id)
    identities = await session.scalars(select(Identity).where(Identity.person_id == person_id))
    groups = {g.id: g.slug for g in await session.scalars(select(Group))}
    memberships = await session.scalars(select(Membership).where(Membership.person_id == person_id))
    consents = await session.scalars(
        select(Consent).where(Consent.person_id == person_id).order_by(Consent.accepted_at)
    )
    subscriptions = await session.scalars(
        select(Subscription).where(Subscription.person_id == person_id)
    )
    actions = await session.scalars(
        select(AuditEntry).where(AuditEntry.actor_id == person_id).order_by(AuditEntry.at)
    )
    record = await person_record(session, person)
    return {
        "person": {
            "display_name": person.display_name,
            "organisation": record.organisation,
            "role": person.role,
            "is_admin": person.is_admin,
            "first_seen": person.created_at.isoformat(),
            "last_seen": person.last_seen_at.isoformat(),
        },
        "identities": [
            {
                "platform": i.platform,
                "user_id": i.external_id,
                "display_name": i.display_name,
                "username": i.username,
                "active": i.active,
            }
            for i in identities
        ],
        "memberships": [
            {
                "group": groups.get(m.group_id),
                "status": m.status,
                "reason": m.reason,
                "since": m.updated_at.isoformat(),
            }
            for m in memberships
        ],
        "consents": [
            {
                "group": groups.get(c.group_id),
                "rules_version": c.rules_version,
                "platform": c.platform,
                "accepted_at": c.accepted_at.isoformat(),
            }
            for c in consents
        ],
        "subscriptions": [s.topic for s in subscriptions],
        "actions": [{"at": a.at.isoformat(), "action": a.action, **a.detail} for a in actions],
    }
