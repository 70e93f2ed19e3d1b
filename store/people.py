"""People and their platform identities."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Select, Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import (
    AuditEntry,
    Consent,
    Group,
    Identity,
    KnownName,
    Membership,
    NewsItem,
    Organisation,
    Person,
    Subscription,
    utcnow,
)
from ccin_bridge.store.records import IdentityRecord, PersonName, PersonRecord
from ccin_bridge.store.upsert import insert_new

# last_seen_at serves retention, counted in days: refreshing it at most hourly keeps a
# known person's read-only commands free of writes.
LAST_SEEN_STEP = timedelta(hours=1)


@dataclass(frozen=True)
class Caller:
    """Who sent a request: their person, the account it came from and that account's rights."""

    person: PersonRecord
    identity_id: int
    is_admin: bool


async def touch_identity(
    session: AsyncSession,
    *,
    platform: str,
    external_id: str,
    display_name: str,
    username: str | None,
) -> PersonRecord:
    """Find or create the person behind an account, refreshing the names we show back."""
    record, _ = await touch(
        session,
        platform=platform,
        external_id=external_id,
        display_name=display_name,
        username=username,
    )
    return record


async def touch(
    session: AsyncSession,
    *,
    platform: str,
    external_id: str,
    display_name: str,
    username: str | None,
) -> tuple[PersonRecord, int]:
    """`touch_identity`, also returning the identity's id."""
    found = await account(
        session,
        platform=platform,
        external_id=external_id,
        display_name=display_name,
        username=username,
    )
    return found.person, found.identity_id


_IDENTITIES = cast(Table, Identity.__table__)
_PEOPLE = cast(Table, Person.__table__)
_ORGANISATIONS = cast(Table, Organisation.__table__)


def _account_query() -> Select[*tuple[Any, ...]]:
    identities, persons = _IDENTITIES.c, _PEOPLE.c
    return (
        select(
            identities.id,
            identities.is_admin,
            identities.active,
            identities.username,
            identities.display_name,
            persons.id,
            persons.display_name,
            persons.role,
            persons.last_seen_at,
            _ORGANISATIONS.c.name,
        )
        .select_from(
            _IDENTITIES.join(_PEOPLE, persons.id == identities.person_id).outerjoin(
                _ORGANISATIONS, _ORGANISATIONS.c.id == persons.organisation_id
            )
        )
        .where(
            identities.platform == bindparam("platform"),
            identities.external_id == bindparam("external_id"),
        )
    )


# One round trip of plain columns, built once: it runs for nearly every request.
_ACCOUNT = _account_query()


async def _account_row(
    session: AsyncSession, platform: str, external_id: str
) -> Row[*tuple[Any, ...]] | None:
    found = await session.execute(_ACCOUNT, {"platform": platform, "external_id": external_id})
    return found.first()


async def known_account(
    session: AsyncSession,
    *,
    platform: str,
    external_id: str,
    display_name: str,
    username: str | None,
    now: datetime,
) -> Caller | None:
    """The caller as stored, without writing; None when `account` has something to write
    (a new account, a changed name, an unblocked account, last seen over an hour ago)."""
    row = await _account_row(session, platform, external_id)
    if row is None:
        return None
    identity_id, is_admin, active, known_handle, known_name = row[:5]
    person_id, person_name, role, last_seen, organisation = row[5:]
    unchanged = (
        active
        and known_handle == username
        and (not display_name or (known_name == display_name and person_name))
        and now - last_seen < LAST_SEEN_STEP
    )
    if not unchanged:
        return None
    person = PersonRecord(
        id=person_id, display_name=person_name, organisation=organisation, role=role
    )
    return Caller(person, identity_id, is_admin)


async def account(
    session: AsyncSession,
    *,
    platform: str,
    external_id: str,
    display_name: str,
    username: str | None,
    now: datetime | None = None,
) -> Caller:
    """Find or create the person behind an account, refreshing the names we show back and
    remembering every name the account has had (erasure needs the old ones too).

    A known account whose names are unchanged writes nothing but, hourly, its last-seen time:
    its names are on its row, and in `known_names` once they change."""
    now = now or utcnow()
    row = await _account_row(session, platform, external_id)
    if row is None:
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
        await remember_names(session, identity.id, (display_name, username or ""), now)
        return Caller(await person_record(session, person), identity.id, identity.is_admin)
    # A known account (nearly always): read as plain columns, and only what changed written.
    identity_id, is_admin, active, known_handle, known_name = row[:5]
    person_id, person_name, role, last_seen, organisation = row[5:]
    shown = display_name or known_name
    renamed = known_handle != username or known_name != shown
    if renamed or not active:
        await session.execute(
            update(Identity)
            .where(Identity.id == identity_id)
            .values(display_name=shown, username=username, active=True)
        )
    if renamed:
        # The names it had go in too: the account's row held them, so they were not always
        # remembered when set (a link copies a name); erasure must still find them.
        names = (display_name, username or "", known_name, known_handle or "")
        await remember_names(session, identity_id, names, now)
    person_changes: dict[str, Any] = {}
    if now - last_seen >= LAST_SEEN_STEP:
        person_changes["last_seen_at"] = now
    if display_name and not person_name:
        person_changes["display_name"] = person_name = display_name
    if person_changes:
        await session.execute(update(Person).where(Person.id == person_id).values(person_changes))
    record = PersonRecord(
        id=person_id, display_name=person_name, organisation=organisation, role=role
    )
    return Caller(record, identity_id, is_admin)


async def remember_names(
    session: AsyncSession, identity_id: int, names: Iterable[str], now: datetime
) -> None:
    rows = [{"identity_id": identity_id, "name": n[:200], "seen_at": now} for n in set(names) if n]
    if rows:
        statement = insert_new(session, KnownName).values(rows)
        await session.execute(statement.on_conflict_do_nothing())


async def note_names(
    session: AsyncSession, *, platform: str, external_id: str, names: Iterable[str]
) -> None:
    """Names a platform showed for a known account outside its own requests (someone joining
    a chat, under a new name perhaps): kept, so that erasure finds them where they are quoted."""
    identity_id = await session.scalar(
        select(Identity.id).where(
            Identity.platform == platform, Identity.external_id == external_id
        )
    )
    if identity_id is not None:
        await remember_names(session, identity_id, names, utcnow())


async def person_record(session: AsyncSession, person: Person) -> PersonRecord:
    organisation = (
        await session.get(Organisation, person.organisation_id) if person.organisation_id else None
    )
    return PersonRecord(
        id=person.id,
        display_name=person.display_name,
        organisation=organisation.name if organisation else None,
        role=person.role,
    )


async def find_person(session: AsyncSession, platform: str, external_id: str) -> PersonName | None:
    """The person behind an account, if the bridge knows it."""
    person_id = await person_id_of(session, platform, external_id)
    return None if person_id is None else await person_name(session, person_id)


async def person_exists(session: AsyncSession, person_id: int) -> bool:
    return await session.get(Person, person_id) is not None


async def person_name(session: AsyncSession, person_id: int) -> PersonName | None:
    person = await session.get(Person, person_id)
    if person is None:
        return None
    return PersonName(
        id=person.id,
        display_name=person.display_name,
        forgetting=person.forget_requested_at is not None,
    )


async def display_names(session: AsyncSession, person_ids: Collection[int]) -> dict[int, str]:
    """Person id -> display name, for those of these people who still exist."""
    rows = await session.execute(
        select(Person.id, Person.display_name).where(Person.id.in_(list(person_ids)))
    )
    return {person_id: name for person_id, name in rows}


def _identity_record(identity: Identity) -> IdentityRecord:
    return IdentityRecord(
        id=identity.id,
        person_id=identity.person_id,
        platform=identity.platform,
        external_id=identity.external_id,
        display_name=identity.display_name,
        username=identity.username,
    )


async def find_identity(
    session: AsyncSession, platform: str, external_id: str
) -> IdentityRecord | None:
    identity = await session.scalar(
        select(Identity).where(Identity.platform == platform, Identity.external_id == external_id)
    )
    return None if identity is None else _identity_record(identity)


async def person_id_of(session: AsyncSession, platform: str, external_id: str) -> int | None:
    """The person behind an account, if that account has used the bot."""
    return await session.scalar(
        select(Identity.person_id).where(
            Identity.platform == platform, Identity.external_id == external_id
        )
    )


async def people_with_handle(session: AsyncSession, handle: str) -> list[int]:
    """The people with an account whose handle, in lower case, is `handle` (already folded)."""
    rows = await session.scalars(
        select(Identity.person_id).where(func.lower(Identity.username) == handle)
    )
    return list(rows)


async def identities_of(
    session: AsyncSession, person_id: int, *, active_only: bool = False
) -> list[IdentityRecord]:
    """A person's accounts, oldest first; `active_only` leaves out those that blocked the bot."""
    query = select(Identity).where(Identity.person_id == person_id)
    if active_only:
        query = query.where(Identity.active.is_(True))
    rows = await session.scalars(query.order_by(Identity.id))
    return [_identity_record(i) for i in rows]


async def identities_on(
    session: AsyncSession, platform: str, person_ids: Collection[int]
) -> list[IdentityRecord]:
    """These people's accounts on one platform."""
    if not person_ids:
        return []
    rows = await session.scalars(
        select(Identity).where(
            Identity.platform == platform, Identity.person_id.in_(sorted(person_ids))
        )
    )
    return [_identity_record(i) for i in rows]


async def set_active(
    session: AsyncSession, *, platform: str, external_id: str, active: bool
) -> None:
    """An account blocked the bot (`active` False: nothing is sent to it) or unblocked it."""
    await session.execute(
        update(Identity)
        .where(Identity.platform == platform, Identity.external_id == external_id)
        .values(active=active)
    )


async def set_admin(
    session: AsyncSession, *, platform: str, external_id: str, is_admin: bool
) -> Caller | None:
    """Grant or revoke admin rights on one account (created if new, so that a grant works from
    its first message); the person's other accounts keep their own, and nothing else about
    the account changes (its names, or whether it blocked the bot). Revoking the rights of an
    account never seen changes nothing and returns None: no person is made for it."""
    identity = await session.scalar(
        select(Identity).where(Identity.platform == platform, Identity.external_id == external_id)
    )
    if identity is None and not is_admin:
        return None
    if identity is None:
        found = await account(
            session, platform=platform, external_id=external_id, display_name="", username=None
        )
        identity = await session.get_one(Identity, found.identity_id)
    identity.is_admin = is_admin
    person = await session.get_one(Person, identity.person_id)
    return Caller(await person_record(session, person), identity.id, is_admin)


async def export_person(session: AsyncSession, person_id: int) -> dict[str, Any]:
    """Everything the store holds about one person, as JSON-ready data (UK GDPR access)."""
    person = await session.get_one(Person, person_id)
    identities = list(
        await session.scalars(select(Identity).where(Identity.person_id == person_id))
    )
    names: dict[int, set[str]] = {}
    for identity_id, name in await session.execute(
        select(KnownName.identity_id, KnownName.name).where(
            KnownName.identity_id.in_([i.id for i in identities])
        )
    ):
        names.setdefault(identity_id, set()).add(name)
    groups = {g.id: g.slug for g in await session.scalars(select(Group))}
    memberships = await session.scalars(select(Membership).where(Membership.person_id == person_id))
    consents = await session.scalars(
        select(Consent).where(Consent.person_id == person_id).order_by(Consent.accepted_at)
    )
    subscriptions = list(
        await session.scalars(
            select(Subscription)
            .where(Subscription.person_id == person_id)
            .order_by(Subscription.topic)
        )
    )
    actions = await session.scalars(
        select(AuditEntry).where(AuditEntry.actor_id == person_id).order_by(AuditEntry.at)
    )
    news = await session.scalars(
        select(NewsItem)
        .where(NewsItem.submitted_by == person_id)
        .order_by(NewsItem.created_at, NewsItem.id)
    )
    record = await person_record(session, person)
    return {
        "person": {
            "display_name": person.display_name,
            "organisation": record.organisation,
            "role": person.role,
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
                "is_admin": i.is_admin,
                "names_seen": sorted(names.get(i.id, ())),
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
        "subscriptions": [s.topic for s in subscriptions if s.wanted],
        "opted_out": [s.topic for s in subscriptions if not s.wanted],
        "news": [
            {
                "title": n.title,
                "body": n.body,
                "url": n.url,
                "audience": n.audience,
                "status": n.status,
                "submitted_at": n.created_at.isoformat(),
                "decided_at": n.decided_at.isoformat() if n.decided_at else None,
                "reason": n.reason,
            }
            for n in news
        ],
        "actions": [{"at": a.at.isoformat(), "action": a.action, **a.detail} for a in actions],
    }


async def set_profile(
    session: AsyncSession, person_id: int, *, organisation_id: int | None, role: str | None
) -> None:
    person = await session.get_one(Person, person_id)
    person.organisation_id, person.role = organisation_id, role


async def inactive_since(
    session: AsyncSession, cutoff: datetime, person_id: int | None = None
) -> list[int]:
    """People not seen since `cutoff`, in no group (pending or active), and not admins (or
    just this one, if still so)."""
    current = select(Membership.person_id).where(Membership.status.in_(["pending", "active"]))
    query = select(Person.id).where(
        Person.last_seen_at < cutoff,
        Person.id.not_in(select(Identity.person_id).where(Identity.is_admin.is_(True))),
        Person.forget_requested_at.is_(None),
        Person.id.not_in(current),
    )
    if person_id is not None:
        query = query.where(Person.id == person_id)
    return list(await session.scalars(query))
