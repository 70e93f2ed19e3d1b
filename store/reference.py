"""Read access to the network's reference data: members, DPS, suppliers, events, principles."""

from __future__ import annotations

from dataclasses import fields
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import DpsFramework, Event, Organisation, Supplier
from ccin_bridge.store.records import DpsRecord, EventRecord, OrganisationRecord, SupplierRecord
from ccin_bridge.store.text import fold, words

# Built once and read as plain rows (no ORM objects): these run for /events and /suppliers.
_DPS = cast(Table, DpsFramework.__table__)
_SUPPLIERS = cast(Table, Supplier.__table__)
_EVENTS = cast(Table, Event.__table__)
_FIRST_DPS = (
    select(
        _DPS.c.name,
        _DPS.c.starts_on,
        _DPS.c.ends_on,
        _DPS.c.eligible_member_types,
        _DPS.c.how_to_access,
        _DPS.c.as_of,
    )
    .order_by(_DPS.c.id)
    .limit(1)
)
_ALL_SUPPLIERS = select(
    _SUPPLIERS.c.name, _SUPPLIERS.c.services, _SUPPLIERS.c.lots, _SUPPLIERS.c.website
).order_by(_SUPPLIERS.c.name)
_EVENT_FIELDS = tuple(f.name for f in fields(EventRecord))
_ALL_EVENTS = select(*(_EVENTS.c[name] for name in _EVENT_FIELDS)).order_by(
    _EVENTS.c.starts_on, _EVENTS.c.title
)


async def dps(session: AsyncSession) -> DpsRecord | None:
    row = (await session.execute(_FIRST_DPS)).first()
    if row is None:
        return None
    name, starts_on, ends_on, eligible, how_to_access, as_of = row
    return DpsRecord(
        name=name,
        starts_on=starts_on,
        ends_on=ends_on,
        eligible_member_types=tuple(eligible),
        how_to_access=how_to_access,
        as_of=as_of,
    )


async def suppliers(session: AsyncSession, query: str = "") -> list[SupplierRecord]:
    """Suppliers whose name, services or lots contain every word of the query.

    The list is a couple of dozen rows, so matching in Python (with accent and hyphen
    folding) is both simpler and kinder than SQL LIKE.
    """
    wanted = words(query)
    found = []
    for name, services, lots, website in (await session.execute(_ALL_SUPPLIERS)).all():
        if wanted:
            haystack = fold(" ".join([name, services or "", *lots]))
            if not all(w in haystack for w in wanted):
                continue
        found.append(
            SupplierRecord(name=name, services=services, lots=tuple(lots), website=website)
        )
    return found


async def events(session: AsyncSession) -> list[EventRecord]:
    return [EventRecord(*row) for row in (await session.execute(_ALL_EVENTS)).all()]


async def organisations(
    session: AsyncSession, query: str = "", member_types: tuple[str, ...] = ()
) -> list[OrganisationRecord]:
    statement = select(Organisation).order_by(Organisation.name)
    if member_types:
        statement = statement.where(Organisation.member_type.in_(member_types))
    wanted = words(query)
    return [
        OrganisationRecord(id=o.id, name=o.name, member_type=o.member_type, subtype=o.subtype)
        for o in await session.scalars(statement)
        if all(w in fold(o.name) for w in wanted)
    ]


async def organisation_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(Organisation.member_type, func.count()).group_by(Organisation.member_type)
    )
    return {member_type: int(count) for member_type, count in rows}
