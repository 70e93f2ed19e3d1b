"""Dates as people in the UK write them, and recurring-event arithmetic."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import date, datetime, time

from dateutil.rrule import rrulestr

from ccin_bridge.store.records import EventRecord

log = logging.getLogger(__name__)
# Series with no first date are anchored here; any date before the network's founding works.
INACTIVE = ("superseded", "cancelled")
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


def next_occurrences(event: EventRecord, today: date, count: int) -> list[date]:
    """The next `count` dates (from today on) of a recurring event; [] if its rule is invalid."""
    if not event.rrule:
        return []
    found = _next_dates(event.rrule, event.starts_on, today, count)
    if found is None:
        log.warning("event %s has an invalid RRULE %r", event.id, event.rrule)
        return []
    return list(found)


@functools.lru_cache(maxsize=1024)
def _next_dates(
    rrule: str, starts_on: date | None, today: date, count: int
) -> tuple[date, ...] | None:
    # Pure, and walking a monthly rule from 2012 costs milliseconds: /events, reminders and
    # digests ask the same question all day.
    try:
        # A series starts on its own first date (an every-other-week rule counts from there);
        # seeded series with no known first date count from a fixed early anchor.
        anchor = datetime.combine(starts_on, time.min) if starts_on else RRULE_ANCHOR
        rule = rrulestr(rrule, dtstart=anchor)
    except (ValueError, TypeError):
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
    result: list[Occurrence] = []
    for event in events:
        if event.rrule:
            result.extend(
                Occurrence(event, day, event.start_time, True)
                for day in next_occurrences(event, today, per_series)
            )
        elif (
            event.status not in INACTIVE
            and event.starts_on is not None
            and (event.ends_on or event.starts_on) >= today
        ):
            result.append(Occurrence(event, event.starts_on, event.start_time, False))
    result.sort(key=lambda o: (o.on, o.at or time.min, o.event.title))
    return result


def past(events: list[EventRecord], today: date, limit: int) -> list[EventRecord]:
    done = [
        e
        for e in events
        if not e.rrule
        and e.status not in INACTIVE
        and e.starts_on
        and (e.ends_on or e.starts_on) < today
    ]
    done.sort(key=lambda e: e.starts_on or date.min, reverse=True)
    return done[:limit]
