"""The bridge's .ics output read back by independent readers (`icalendar` and
`recurring-ical-events`): wall-clock times across the clock changes, and a series' cancelled,
extra and moved dates. Events are fictional."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from ccin_bridge.handlers import ics
from ccin_bridge.store.records import EventRecord
from tests.conftest import NOW

LONDON = ZoneInfo("Europe/London")
UID = "sample-cabinet@council.example"


def record(**changes: object) -> EventRecord:
    base: dict[str, object] = {
        "id": 7,
        "title": "Exampleton Cabinet",
        "starts_on": date(2026, 1, 6),
        "ends_on": None,
        "date_text": None,
        "status": "planned",
        "start_time": time(10, 0),
        "rrule": "FREQ=WEEKLY;BYDAY=TU",
        "duration_minutes": 60,
        "location": "Sampleford Town Hall",
        "online": False,
        "url": None,
        "summary": "",
    }
    base.update(changes)
    return EventRecord(**base)  # type: ignore[arg-type]


def occurrences(content: bytes, first: date, last: date) -> list[datetime]:
    calendar = icalendar.Calendar.from_ical(content)
    found = recurring_ical_events.of(calendar).between(first, last + timedelta(days=1))
    return sorted(event["DTSTART"].dt for event in found)


def test_a_weekly_10am_meeting_stays_at_10am_across_both_clock_changes() -> None:
    content = ics.calendar([record()], zone=LONDON, now=NOW)
    # The last Sundays of March and October 2026 are the 29th and the 25th.
    spring = occurrences(content, date(2026, 3, 20), date(2026, 4, 5))
    autumn = occurrences(content, date(2026, 10, 18), date(2026, 11, 1))
    for found in (spring, autumn):
        assert [d.date().weekday() for d in found] == [1, 1]
        assert {(d.astimezone(LONDON).hour, d.astimezone(LONDON).minute) for d in found} == {
            (10, 0)
        }
    # Ten o'clock is 10:00 UTC in winter and 09:00 UTC in summer: the instant moves, not the hour.
    assert [d.utcoffset() for d in spring] == [timedelta(0), timedelta(hours=1)]
    assert [d.utcoffset() for d in autumn] == [timedelta(hours=1), timedelta(0)]
    read = icalendar.Calendar.from_ical(content)
    (vevent,) = read.walk("VEVENT")
    assert vevent["DTSTART"].params["TZID"] == "Europe/London"
    assert vevent.decoded("DURATION") == timedelta(hours=1)


def test_cancelled_extra_and_moved_dates_read_back_as_they_were_imported() -> None:
    series = record(
        uid=UID,
        rrule="FREQ=MONTHLY;BYDAY=1TU",
        starts_on=date(2026, 3, 3),
        exdates=(date(2026, 4, 7), date(2026, 5, 5), date(2026, 6, 2)),
        rdates=(date(2026, 4, 15),),
    )
    moved = record(
        id=8,
        uid=UID,
        title="Exampleton Cabinet (moved)",
        rrule=None,
        recurrence_on=date(2026, 5, 5),
        starts_on=date(2026, 5, 12),
        start_time=time(14, 0),
    )
    cancelled = record(
        id=9,
        uid=UID,
        rrule=None,
        recurrence_on=date(2026, 6, 2),
        starts_on=date(2026, 6, 2),
        status="cancelled",
    )
    content = ics.calendar([series, moved, cancelled], zone=LONDON, now=NOW)
    found = occurrences(content, date(2026, 3, 1), date(2026, 7, 31))
    assert [(d.date(), d.astimezone(LONDON).hour) for d in found] == [
        (date(2026, 3, 3), 10),
        (date(2026, 4, 15), 10),  # the extra date (RDATE)
        (date(2026, 5, 12), 14),  # 5 May, moved (RECURRENCE-ID)
        (date(2026, 7, 7), 10),  # 7 April and 2 June are cancelled
    ]
    vevents = icalendar.Calendar.from_ical(content).walk("VEVENT")
    assert {str(v["UID"]) for v in vevents} == {UID}  # one event for a subscriber's calendar
    assert len(vevents) == 2  # the series and its moved date; a cancelled date is an EXDATE

    # Alone (`/ics` of the series), the moved date is simply not in the series.
    alone = occurrences(
        ics.calendar([series], zone=LONDON, now=NOW), date(2026, 5, 1), date(2026, 5, 31)
    )
    assert alone == []


def test_an_all_day_series_writes_its_exceptions_as_dates() -> None:
    series = record(
        start_time=None,
        duration_minutes=None,
        exdates=(date(2026, 1, 13),),
        rdates=(date(2026, 1, 15),),
    )
    content = ics.calendar([series], zone=LONDON, now=NOW)
    found = occurrences(content, date(2026, 1, 1), date(2026, 1, 21))
    assert found == [date(2026, 1, 6), date(2026, 1, 15), date(2026, 1, 20)]
