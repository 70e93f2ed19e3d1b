"""Erasure of a person (/forgetme and retention)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.linking import person_columns
from store.models import (
    Base,
    ChatAction,
    Consent,
    Conversation,
    Delivery,
    Identity,
    KnownName,
    LinkCode,
    Membership,
    Person,
    Subscription,
)
from store.text import like_pattern

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
    needles |= set(
        await session.scalars(
            select(KnownName.name)
            .join(Identity, Identity.id == KnownName.identity_id)
            .where(Identity.person_id == person_id)
        )
    )
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
        await session.execute(delete(KnownName).where(KnownName.identity_id.in_(identity_ids)))
    for table, column in person_columns():
        if table.name in ("people", "identities", "chat_actions") or not column.nullable:
            continue
        await session.execute(table.update().where(column == person_id).values({column.name: None}))
    await redact(session, needles)
    person.display_name, person.role, person.organisation_id = "", None, None
    person.forget_requested_at = now
    await session.execute(
        update(Identity)
        .where(Identity.person_id == person_id)
        .values(display_name="", username=None, active=False, is_admin=False)
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


async def redact(session: AsyncSession, needles: Iterable[str]) -> int:
    """Replace every occurrence of these strings in operational tables; returns rows changed."""
    needles = sorted({n for n in needles if n}, key=len, reverse=True)
    if not needles:
        return 0
    changed = 0
    for table in Base.metadata.sorted_tables:
        if table.name in REFERENCE_TABLES or table.name in ("people", "identities", "known_names"):
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
