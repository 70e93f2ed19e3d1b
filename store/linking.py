"""Joining two people into one when they link their accounts (/link), and parting one
account from them again (/unlink)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Table, UniqueConstraint, delete, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.groups import PENDING
from ccin_bridge.store.models import (
    Base,
    ChatAction,
    Consent,
    Identity,
    LinkCode,
    Membership,
    Person,
    Subscription,
)


def person_columns() -> list[tuple[Table, Column[Any]]]:
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
    # A code out there was shown as joining one set of accounts; from now on it would join
    # another, so neither person's codes stay good.
    await session.execute(delete(LinkCode).where(LinkCode.person_id.in_([keep_id, merge_id])))
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
            other.role = m.role or other.role  # the role given with the membership that won
        else:
            other.role = other.role or m.role
        await session.delete(m)
    await session.flush()
    for table, column in person_columns():
        if table.name == "people":
            continue
        await _move_rows(session, table, column, keep_id, merge_id)
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


async def detach(session: AsyncSession, identity_id: int) -> int:
    """Make one account of a linked person a person of its own (/unlink); returns its id.

    Both accounts were one consenting person until now, so the detached one keeps copies of
    the profile (its own display name only), memberships, the rules accepted from its own
    platform and subscriptions, and no real chat needs changing. A join request still
    waiting stays with the other accounts (one request, one decision). Chat changes still
    queued for this account move with it; admin rights are on the account and stay there.
    """
    identity = await session.get_one(Identity, identity_id)
    old = await session.get_one(Person, identity.person_id)
    others = await session.scalar(
        select(Identity.id).where(Identity.person_id == old.id, Identity.id != identity_id)
    )
    if others is None:
        raise ValueError(f"identity {identity_id} is its person's only account")
    new = Person(
        display_name=identity.display_name,  # its own: the other human's name is theirs
        organisation_id=old.organisation_id,
        role=old.role,
        created_at=old.created_at,
        last_seen_at=old.last_seen_at,
    )
    session.add(new)
    await session.flush()
    for m in await session.scalars(
        select(Membership).where(Membership.person_id == old.id, Membership.status != PENDING)
    ):
        session.add(
            Membership(
                person_id=new.id,
                group_id=m.group_id,
                status=m.status,
                reason=m.reason,
                role=m.role,
                created_at=m.created_at,
                updated_at=m.updated_at,
            )
        )
    # Only the rules accepted from this account's platform: acceptances given elsewhere are
    # the other account's (rules are asked again where they are missing).
    consents = select(Consent).where(
        Consent.person_id == old.id, Consent.platform == identity.platform
    )
    for c in await session.scalars(consents):
        session.add(
            Consent(
                person_id=new.id,
                group_id=c.group_id,
                rules_version=c.rules_version,
                platform=c.platform,
                accepted_at=c.accepted_at,
            )
        )
    for s in await session.scalars(select(Subscription).where(Subscription.person_id == old.id)):
        session.add(
            Subscription(
                person_id=new.id,
                topic=s.topic,
                wanted=s.wanted,
                source=s.source,
                created_at=s.created_at,
            )
        )
    identity.person_id = new.id
    await session.execute(delete(LinkCode).where(LinkCode.person_id == old.id))
    await session.execute(
        update(ChatAction).where(ChatAction.identity_id == identity_id).values(person_id=new.id)
    )
    await session.flush()
    return new.id
