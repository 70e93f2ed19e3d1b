"""Read access to the network's reference data: members, DPS, suppliers, events, principles."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import date, time, timedelta
from typing import Any, cast

from sqlalchemy import Row, String, Table, and_, func, or_, select
from sqlalchemy import cast as cast_
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import DpsFramework, Event, Organisation, Supplier
from ccin_bridge.store.records import DpsRecord, EventRecord, OrganisationRecord, SupplierRecord
from ccin_bridge.store.text import fold, words

INDIVIDUAL = "individual"  # the subtype of a supporter who is a person, not an organisation

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
_EVENT_COLUMNS = select(*(_EVENTS.c[name] for name in _EVENT_FIELDS))
_DATE_LISTS = ("exdates", "rdates")  # JSON lists of ISO dates in the table, tuples in records
_ALL_EVENTS = _EVENT_COLUMNS.order_by(_EVENTS.c.starts_on, _EVENTS.c.title)
# One-off events with these statuses are neither coming nor past (a recurring one's rule alone
# says when it meets).
INACTIVE = ("superseded", "cancelled")
# A series with a rule meets by it, unless the whole series is cancelled.
_RECURRING = and_(_EVENTS.c.rrule > "", _EVENTS.c.status != "cancelled")
_DATED_ONE_OFF = and_(
    func.coalesce(_EVENTS.c.rrule, "") == "",
    _EVENTS.c.status.not_in(INACTIVE),
    _EVENTS.c.starts_on.is_not(None),
)
_LAST_DAY = func.coalesce(_EVENTS.c.ends_on, _EVENTS.c.starts_on)


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


def _days(value: object) -> tuple[date, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(sorted(date.fromisoformat(item) for item in value if isinstance(item, str)))


def _record(row: Row[Any]) -> EventRecord:
    values = dict(zip(_EVENT_FIELDS, row, strict=True))
    for name in _DATE_LISTS:
        values[name] = _days(values[name])
    return EventRecord(**values)


async def events(session: AsyncSession) -> list[EventRecord]:
    return [_record(row) for row in (await session.execute(_ALL_EVENTS)).all()]


@dataclass(frozen=True)
class EventDates:
    """When an event is, and no more: enough to order events before reading the few shown."""

    id: int
    title: str
    starts_on: date | None
    ends_on: date | None
    status: str
    start_time: time | None
    rrule: str | None
    exdates: tuple[date, ...] = ()
    rdates: tuple[date, ...] = ()


_DATES_FIELDS = tuple(f.name for f in fields(EventDates))
# The date lists come as their stored text: /events reads every series' row each time, and
# decoding "[]" as JSON for each (most have no exceptions) cost more than the rest of the read.
_DATES = select(
    *(
        cast_(_EVENTS.c[name], String).label(name) if name in _DATE_LISTS else _EVENTS.c[name]
        for name in _DATES_FIELDS
    )
)


def _days_text(value: object) -> tuple[date, ...]:
    if value is None or value == "[]":
        return ()
    return _days(json.loads(value) if isinstance(value, str) else value)


def _dates(row: Row[Any]) -> EventDates:
    values = dict(zip(_DATES_FIELDS, row, strict=True))
    for name in _DATE_LISTS:
        values[name] = _days_text(values[name])
    return EventDates(**values)


async def coming_event_dates(session: AsyncSession, today: date, first: int) -> list[EventDates]:
    """Every recurring event (only its rule says when it next meets), and of the dated one-off
    events not over by `today`, the `first` to start and any starting on the same day as the
    last of those: whatever their order within a day, the earliest `first` are among them."""
    coming = and_(_DATED_ONE_OFF, today <= _LAST_DAY)
    cutoff = (
        select(_EVENTS.c.starts_on)
        .where(coming)
        .order_by(_EVENTS.c.starts_on)
        .offset(first - 1)
        .limit(1)
        .scalar_subquery()
    )
    # Fewer than `first` coming: all of them (the subquery once, not twice: it is a scan).
    window = _EVENTS.c.starts_on <= func.coalesce(cutoff, date.max)
    statement = _DATES.where(or_(_RECURRING, and_(coming, window))).order_by(
        _EVENTS.c.starts_on, _EVENTS.c.title
    )
    return [_dates(row) for row in (await session.execute(statement)).all()]


async def events_by_id(session: AsyncSession, ids: Collection[int]) -> dict[int, EventRecord]:
    if not ids:
        return {}
    rows = await session.execute(_EVENT_COLUMNS.where(_EVENTS.c.id.in_(list(ids))))
    return {record.id: record for record in (_record(row) for row in rows.all())}


_MONTH = re.compile(
    r"\b(january|february|march|april|may|june|july|august|september|october|november|december)"
    r"\s+(\d{4})\b",
    re.IGNORECASE,
)
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH_ONLY = and_(
    func.coalesce(_EVENTS.c.rrule, "") == "",
    _EVENTS.c.status.not_in(INACTIVE),
    _EVENTS.c.starts_on.is_(None),
    _EVENTS.c.date_text.is_not(None),
)


def known_month(event: EventRecord) -> date | None:
    """The first of the month an undated event is known by ("July 2025"), if its text names one."""
    if event.starts_on is not None or not event.date_text:
        return None
    found = _MONTH.search(event.date_text)
    if found is None:
        return None
    return date(int(found.group(2)), _MONTHS.index(found.group(1).casefold()) + 1, 1)


def _month_end(first: date) -> date:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return following - timedelta(days=1)


def last_day(event: EventRecord) -> date | None:
    """The day a one-off event ends: its end date, start date, or the end of its known month."""
    if event.starts_on is not None:
        return event.ends_on or event.starts_on
    month = known_month(event)
    return _month_end(month) if month else None


async def recent_events(session: AsyncSession, today: date, limit: int) -> list[EventRecord]:
    """The one-off events over before `today`, the latest first: dated ones, and those known
    only to their month (“July 2025”) once that month is over."""
    statement = (
        _EVENT_COLUMNS.where(_DATED_ONE_OFF, today > _LAST_DAY)
        .order_by(_EVENTS.c.starts_on.desc(), _EVENTS.c.title)
        .limit(limit)
    )
    found = [_record(row) for row in (await session.execute(statement)).all()]
    # Undated events are few (the seeds' past conferences); their month is read from the text.
    for row in (await session.execute(_EVENT_COLUMNS.where(_MONTH_ONLY))).all():
        event = _record(row)
        end = last_day(event)
        if end is not None and end < today:
            found.append(event)
    found.sort(key=lambda e: e.title)
    found.sort(key=lambda e: last_day(e) or date.min, reverse=True)
    return found[:limit]


async def organisations(
    session: AsyncSession,
    query: str = "",
    member_types: tuple[str, ...] = (),
    *,
    individuals: bool = True,
) -> list[OrganisationRecord]:
    """Members and supporters whose names hold every word of `query`; `individuals=False`
    leaves out supporters who are people (what someone picks as their organisation)."""
    statement = select(Organisation).order_by(Organisation.name)
    if not individuals:
        statement = statement.where(
            or_(Organisation.subtype.is_(None), Organisation.subtype != INDIVIDUAL)
        )
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
