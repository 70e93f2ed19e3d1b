"""People and their platform identities."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    String,
    Table,
    Text,
    UniqueConstraint,
    cast,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    AuditEntry,
    Base,
    ChatAction,
    Consent,
    Conversation,
    Delivery,
    Group,
    Identity,
    LinkCode,
    Membership,
    Organisation,
    Person,
    Subscription,
    utcnow,
)
from store.records import PersonRecord
from store.text import like_pattern


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
    return await person_record(session, person), identity.id


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


async def set_profile(
    session: AsyncSession, person_id: int, *, organisation_id: int | None, role: str | None
) -> None:
    person = await session.get_one(Person, person_id)
    person.organisation_id, person.role = organisation_id, role


# --- linking two identities (/link) ------------------------------------------------------------


def _person_columns() -> list[tuple[Table, Column[Any]]]:
    """Every column in every table that refers to a person, found from the schema itself,
    so tables added later are merged and erased without anyone remembering to list them."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "people" for fk in column.foreign_keys):
                found.append((table, column))
    return found


_STATUS_RANK = {"active": 4, "pending": 3, "left": 2, "removed": 1, "declined": 0}


async def merge(session: AsyncSession, *, keep_id: int, merge_id: int) -> None:
    """Move everything of person `merge_id` onto `keep_id` and delete `merge_id`.

    Where both have a row that must be unique (a membership of the same group, a choice about
    the same topic), the survivor's row stays, except that the better membership wins.
    """
    if keep_id == merge_id:
        return
    keep = await session.get_one(Person, keep_id)
    gone = await session.get_one(Person, merge_id)
    mine = {
        m.group_id: m
        for m in await session.scalars(select(Membership).where(Membership.person_id == keep_id))
    }
    for m in list(
        await session.scalars(select(Membership).where(Membership.person_id == merge_id))
    ):
        other = mine.get(m.group_id)
        if other is None:
            continue
        if _STATUS_RANK.get(m.status, 0) > _STATUS_RANK.get(other.status, 0):
            other.status, other.reason, other.updated_at = m.status, m.reason, m.updated_at
        await session.delete(m)
    await session.flush()
    for table, column in _person_columns():
        if table.name == "people":
            continue
        await _move_rows(session, table, column, keep_id, merge_id)
    keep.is_admin = keep.is_admin or gone.is_admin
    keep.organisation_id = keep.organisation_id or gone.organisation_id
    keep.role = keep.role or gone.role
    keep.display_name = keep.display_name or gone.display_name
    keep.created_at = min(keep.created_at, gone.created_at)
    keep.last_seen_at = max(keep.last_seen_at, gone.last_seen_at)
    await session.flush()
    await session.execute(delete(Person).where(Person.id == merge_id))


async def _move_rows(
    session: AsyncSession, table: Table, column: Column[Any], keep_id: int, merge_id: int
) -> None:
    # Rows that would collide with one of the survivor's on a unique constraint are dropped.
    for constraint in table.constraints:
        if not isinstance(constraint, UniqueConstraint) or column.name not in constraint.columns:
            continue
        others = [c for c in constraint.columns if c.name != column.name]
        if not others:
            continue
        theirs = select(*others).where(column == keep_id)
        clash = tuple_(*others).in_(theirs) if len(others) > 1 else others[0].in_(theirs)
        await session.execute(table.delete().where(column == merge_id, clash))
    await session.execute(table.update().where(column == merge_id).values({column.name: keep_id}))


# --- erasure (/forgetme and retention) ---------------------------------------------------------

# Reference data is public and loaded from seeds; it is never searched for personal data.
REFERENCE_TABLES = frozenset(
    {
        "organisations",
        "principles",
        "categories",
        "case_studies",
        "projects",
        "dps_frameworks",
        "suppliers",
        "events",
        "search_docs",
        "search_terms",
        "groups",
        "apscheduler_jobs",
    }
)
ERASED = "[erased]"
_MIN_NEEDLE = 3  # shorter strings would match far too much to redact safely


async def personal_strings(session: AsyncSession, person_id: int) -> set[str]:
    """The person's names, handles and platform ids: what erasure hunts for."""
    person = await session.get_one(Person, person_id)
    needles = {person.display_name}
    for identity in await session.scalars(select(Identity).where(Identity.person_id == person_id)):
        needles |= {identity.display_name, identity.username or "", identity.external_id}
    return {n for n in needles if len(n.strip()) >= _MIN_NEEDLE}


async def begin_erasure(session: AsyncSession, person_id: int, now: datetime) -> None:
    """Strip the person of everything but the platform ids that queued chat removals still need.

    Memberships, consents, subscriptions, link codes and flows go; every other table that
    mentions their names, handles or ids is redacted; rows that merely point at them lose the
    pointer. The person row and identities (nameless) stay until `finish_erasure`.
    """
    needles = await personal_strings(session, person_id)
    person = await session.get_one(Person, person_id)
    identity_ids = list(
        await session.scalars(select(Identity.id).where(Identity.person_id == person_id))
    )
    for model in (Membership, Consent, Subscription):
        await session.execute(delete(model).where(model.person_id == person_id))
    await session.execute(delete(LinkCode).where(LinkCode.person_id == person_id))
    if identity_ids:
        await session.execute(
            delete(Conversation).where(Conversation.identity_id.in_(identity_ids))
        )
        await session.execute(delete(Delivery).where(Delivery.identity_id.in_(identity_ids)))
    for table, column in _person_columns():
        if table.name in ("people", "identities", "chat_actions") or not column.nullable:
            continue
        await session.execute(table.update().where(column == person_id).values({column.name: None}))
    await redact(session, needles)
    person.display_name, person.role, person.organisation_id = "", None, None
    person.is_admin, person.forget_requested_at = False, now
    await session.execute(
        update(Identity)
        .where(Identity.person_id == person_id)
        .values(display_name="", username=None, active=False)
    )


async def finish_erasure(session: AsyncSession, person_id: int) -> bool:
    """Delete the person and identities once no chat removal is waiting. True if done."""
    waiting = await session.scalar(
        select(func.count())
        .select_from(ChatAction)
        .where(ChatAction.person_id == person_id, ChatAction.status.in_(["pending", "running"]))
    )
    if waiting:
        return False
    needles = {
        i
        for i in await session.scalars(
            select(Identity.external_id).where(Identity.person_id == person_id)
        )
        if len(i) >= _MIN_NEEDLE
    }
    await session.execute(delete(ChatAction).where(ChatAction.person_id == person_id))
    await session.execute(delete(Identity).where(Identity.person_id == person_id))
    await session.execute(delete(Person).where(Person.id == person_id))
    await redact(session, needles)
    return True


async def erasures_waiting(session: AsyncSession) -> list[int]:
    rows = await session.scalars(select(Person.id).where(Person.forget_requested_at.is_not(None)))
    return list(rows)


async def inactive_since(session: AsyncSession, cutoff: datetime) -> list[int]:
    """People not seen since `cutoff`, in no group (pending or active), and not admins."""
    current = select(Membership.person_id).where(Membership.status.in_(["pending", "active"]))
    rows = await session.scalars(
        select(Person.id).where(
            Person.last_seen_at < cutoff,
            Person.is_admin.is_(False),
            Person.forget_requested_at.is_(None),
            Person.id.not_in(current),
        )
    )
    return list(rows)


async def redact(session: AsyncSession, needles: Iterable[str]) -> int:
    """Replace every occurrence of these strings in operational tables; returns rows changed."""
    needles = sorted({n for n in needles if n}, key=len, reverse=True)
    if not needles:
        return 0
    changed = 0
    for table in Base.metadata.sorted_tables:
        if table.name in REFERENCE_TABLES or table.name in ("people", "identities"):
            continue
        columns = [
            c
            for c in table.columns
            if isinstance(c.type, (String, Text, JSON)) and not c.primary_key
        ]
        if not columns:
            continue
        # JSON text may spell non-ASCII characters as \\u escapes; look for both spellings.
        spellings = {v for n in needles for v in (n, json.dumps(n)[1:-1])}
        pattern = _whole_words(spellings)
        matches = [
            cast(c, Text).like(like_pattern(n), escape="\\") for c in columns for n in spellings
        ]
        keys = list(table.primary_key.columns)
        # LIKE finds candidates; only whole words are replaced, so "Eve" erases "Eve" but
        # leaves other people's "Events" alone.
        rows = (await session.execute(select(*keys, *columns).where(or_(*matches)))).all()
        for row in rows:
            old = {c.name: row[len(keys) + i] for i, c in enumerate(columns)}
            values = {name: _scrub(value, pattern) for name, value in old.items()}
            if values == old:
                continue
            where = [k == row[i] for i, k in enumerate(keys)]
            await session.execute(table.update().where(*where).values(values))
            changed += 1
    return changed


def _whole_words(needles: Iterable[str]) -> re.Pattern[str]:
    alternatives = sorted(needles, key=len, reverse=True)  # the longest spelling first
    return re.compile("|".join(rf"(?<!\w){re.escape(n)}(?!\w)" for n in alternatives))


def _scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    """Redact whole-word matches in text and in JSON values (keys are structure, not data)."""
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, list):
        return [_scrub(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, pattern) for k, v in value.items()}
    return value
