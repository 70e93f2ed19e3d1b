"""Dates as people in the UK write them, and recurring-event arithmetic."""

from __future__ import annotations

import functools
import heapq
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Protocol, TypeVar

from dateutil.rrule import rruleset, rrulestr

from ccin_bridge.store.records import EventRecord
from ccin_bridge.store.reference import INACTIVE as INACTIVE  # statuses neither coming nor past

log = logging.getLogger(__name__)
# Series with no first date are anchored here; any date before the network's founding works.
RRULE_ANCHOR = datetime(2012, 1, 1)  # noqa: DTZ001 (wall-clock arithmetic, zone applied later)


def long_date(day: date) -> str:
    """`Tuesday 1 December 2026`."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def short_date(day: date) -> str:
    """`1 Dec 2026`."""
    return f"{day.day} {day:%b %Y}"


def clock_time(at: time) -> str:
    """`10am`, `2:30pm`."""
    hour = at.hour % 12 or 12
    suffix = "am" if at.hour < 12 else "pm"
    return f"{hour}{suffix}" if at.minute == 0 else f"{hour}:{at.minute:02d}{suffix}"


@dataclass(frozen=True)
class Occurrence:
    event: EventRecord
    on: date
    at: time | None
    recurring: bool


class Dated(Protocol):
    """What says when an event is: an `EventRecord`, or the store's lighter `EventDates`."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def starts_on(self) -> date | None: ...
    @property
    def ends_on(self) -> date | None: ...
    @property
    def status(self) -> str: ...
    @property
    def start_time(self) -> time | None: ...
    @property
    def rrule(self) -> str | None: ...
    @property
    def exdates(self) -> tuple[date, ...]: ...
    @property
    def rdates(self) -> tuple[date, ...]: ...


D = TypeVar("D", bound=Dated)


def next_occurrences(event: Dated, today: date, count: int) -> list[date]:
    """The next `count` dates (from today on) of a recurring event: its rule's dates and its
    extra ones (RDATE), less those it does not meet on (EXDATE, or moved); [] for a cancelled
    series or an invalid rule."""
    if not event.rrule or event.status == "cancelled":
        return []
    found = _next_dates(
        event.rrule, event.starts_on, today, count, tuple(event.exdates), tuple(event.rdates)
    )
    if found is None:
        log.warning("event %s has an invalid RRULE %r", event.id, event.rrule)
        return []
    return list(found)


def series_between(event: Dated, first: date, last: date) -> list[date]:
    """The dates of a recurring event from `first` to `last` inclusive, as `next_occurrences`."""
    if not event.rrule or event.status == "cancelled":
        return []
    found = _series(event.rrule, event.starts_on, tuple(event.exdates), tuple(event.rdates))
    if found is None:
        return []
    return [
        d.date()
        for d in found.between(
            datetime.combine(first, time.min), datetime.combine(last, time.max), inc=True
        )
    ]


@functools.lru_cache(maxsize=1024)
def _series(
    rrule: str, starts_on: date | None, exdates: tuple[date, ...], rdates: tuple[date, ...]
) -> rruleset | None:
    try:
        # A series starts on its own first date (an every-other-week rule counts from there);
        # seeded series with no known first date count from a fixed early anchor.
        anchor = datetime.combine(starts_on, time.min) if starts_on else RRULE_ANCHOR
        rule = rrulestr(rrule, dtstart=anchor, forceset=True)
    except (ValueError, TypeError):
        return None
    assert isinstance(rule, rruleset)
    for day in rdates:
        rule.rdate(datetime.combine(day, time.min))
    for day in exdates:
        rule.exdate(datetime.combine(day, time.min))
    return rule


@functools.lru_cache(maxsize=1024)
def _next_dates(
    rrule: str,
    starts_on: date | None,
    today: date,
    count: int,
    exdates: tuple[date, ...] = (),
    rdates: tuple[date, ...] = (),
) -> tuple[date, ...] | None:
    # Pure, and walking a monthly rule from 2012 costs milliseconds: /events, reminders and
    # digests ask the same question all day.
    rule = _series(rrule, starts_on, exdates, rdates)
    if rule is None:
        return None
    found: list[date] = []
    cursor = datetime.combine(today, time.min)
    while len(found) < count:
        nxt = rule.after(cursor, inc=not found)
        if nxt is None:
            break
        found.append(nxt.date())
        cursor = nxt
    return tuple(found)


def upcoming(events: list[EventRecord], today: date, per_series: int = 1) -> list[Occurrence]:
    """Dated events that have not finished, plus the next dates of recurring ones, in order."""
    return [
        Occurrence(event, day, event.start_time, bool(event.rrule))
        for event, day in dates_ahead(events, today, per_series)
    ]


def dates_ahead(
    events: Iterable[D], today: date, per_series: int = 1, limit: int | None = None
) -> list[tuple[D, date]]:
    """As `upcoming`, (event, day) pairs: by day, time, title, then the order given; with
    `limit`, only the first so many (without sorting the rest)."""
    found: list[tuple[D, date]] = []
    for event in events:
        if event.rrule:
            found.extend((event, day) for day in next_occurrences(event, today, per_series))
        elif (
            event.status not in INACTIVE
            and event.starts_on is not None
            and (event.ends_on or event.starts_on) >= today
        ):
            found.append((event, event.starts_on))
    if limit is None:
        return sorted(found, key=_in_order)
    return heapq.nsmallest(limit, found, key=_in_order)  # stable, as sorted(...)[:limit]


def _in_order(item: tuple[Dated, date]) -> tuple[date, time, str]:
    event, day = item
    return (day, event.start_time or time.min, event.title)
