"""Read access to the network's reference data: members, DPS, suppliers, events, principles."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import DpsFramework, Event, Organisation, Supplier
from ccin_bridge.store.records import DpsRecord, EventRecord, OrganisationRecord, SupplierRecord
from ccin_bridge.store.text import fold, words


async def dps(session: AsyncSession) -> DpsRecord | None:
    row = await session.scalar(select(DpsFramework).order_by(DpsFramework.id).limit(1))
    if row is None:
        return None
    return DpsRecord(
        name=row.name,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        eligible_member_types=tuple(row.eligible_member_types),
        how_to_access=row.how_to_access,
        as_of=row.as_of,
    )


async def suppliers(session: AsyncSession, query: str = "") -> list[SupplierRecord]:
    """Suppliers whose name, services or lots contain every word of the query.

    The list is a couple of dozen rows, so matching in Python (with accent and hyphen
    folding) is both simpler and kinder than SQL LIKE.
    """
    wanted = words(query)
    found = []
    for s in await session.scalars(select(Supplier).order_by(Supplier.name)):
        haystack = fold(" ".join([s.name, s.services or "", *s.lots]))
        if all(w in haystack for w in wanted):
            found.append(
                SupplierRecord(
                    name=s.name, services=s.services, lots=tuple(s.lots), website=s.website
                )
            )
    return found


async def events(session: AsyncSession) -> list[EventRecord]:
    rows = await session.scalars(select(Event).order_by(Event.starts_on, Event.title))
    return [
        EventRecord(
            id=e.id,
            title=e.title,
            starts_on=e.starts_on,
            ends_on=e.ends_on,
            date_text=e.date_text,
            status=e.status,
            start_time=e.start_time,
            rrule=e.rrule,
            duration_minutes=e.duration_minutes,
            location=e.location,
            online=e.online,
            url=e.url,
            summary=e.summary,
        )
        for e in rows
    ]


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
