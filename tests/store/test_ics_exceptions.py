"""A council's Outlook calendar: its own zone, cancelled (EXDATE), extra (RDATE), moved and
cancelled (RECURRENCE-ID) dates of a series, kept through the import and honoured by the
dates /events, reminders and digests use."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select

from ccin_bridge.handlers.dates import next_occurrences, series_between
from ccin_bridge.store import reference
from ccin_bridge.store.db import Database
from ccin_bridge.store.importers import import_file
from ccin_bridge.store.importers_ics import IcsEvent, read_calendar
from ccin_bridge.store.models import Event

OUTLOOK = Path(__file__).parent / "import_samples" / "outlook_series.ics"
UID = "cabinet-2026@council.example"


def test_outlooks_uk_zone_name_is_read_from_the_files_vtimezone() -> None:
    series, moved, cancelled = read_calendar(OUTLOOK.read_bytes())
    assert isinstance(series, IcsEvent)
    start = series.fields["starts"]
    assert isinstance(start, datetime)
    # 10:00 in March (GMT) and, from the same zone, 10:00 in April (BST): 09:00 UTC
    assert start.utcoffset() is not None and start.hour == 10
    assert series.fields["uid"] == UID
    rdates = series.fields["rdates"]
    assert isinstance(rdates, list)
    (extra,) = rdates
    assert isinstance(extra, datetime) and (extra.date(), extra.hour) == (date(2026, 4, 15), 10)
    assert extra.utcoffset() == timedelta(hours=1)  # BST, from the file's own rules
    exdates = series.fields["exdates"]
    assert isinstance(exdates, list)
    # its own EXDATE, then the dates its two overrides replace
    assert [d.date() for d in exdates] == [date(2026, 4, 7), date(2026, 5, 5), date(2026, 6, 2)]
    assert isinstance(moved, IcsEvent) and isinstance(cancelled, IcsEvent)
    assert moved.fields["recurrence_on"] == datetime(2026, 5, 5, 10, tzinfo=start.tzinfo)
    assert cancelled.fields["status"] == "cancelled"


async def test_a_series_keeps_its_exceptions_and_the_dates_honour_them(db: Database) -> None:
    async with db.session() as session:
        report = await import_file(session, "events", OUTLOOK)
    assert (report.created, report.errors) == (3, ())
    async with db.read() as session:
        rows = list(await session.scalars(select(Event).where(Event.uid == UID)))
        records = {e.id: e for e in await reference.events(session) if e.uid == UID}
    series = next(e for e in rows if e.recurrence_on is None)
    assert (series.starts_on, series.start_time) == (date(2026, 3, 3), time(10, 0))
    assert series.exdates == ["2026-04-07", "2026-05-05", "2026-06-02"]
    assert series.rdates == ["2026-04-15"]
    moved = next(e for e in rows if e.recurrence_on == date(2026, 5, 5))
    assert (moved.title, moved.starts_on, moved.start_time) == (
        "Sample Cabinet (moved)",
        date(2026, 5, 12),
        time(14, 0),
    )
    assert next(e for e in rows if e.recurrence_on == date(2026, 6, 2)).status == "cancelled"

    record = records[series.id]
    # COUNT=6 from 3 March: 3 Mar, 7 Apr, 5 May, 2 Jun, 7 Jul, 4 Aug; less the cancelled
    # 7 April, the moved 5 May and the cancelled 2 June; plus the extra 15 April.
    held = [date(2026, 3, 3), date(2026, 4, 15), date(2026, 7, 7), date(2026, 8, 4)]
    assert series_between(record, date(2026, 1, 1), date(2026, 12, 31)) == held
    assert next_occurrences(record, date(2026, 4, 1), 3) == held[1:]


async def test_a_cancelled_series_has_no_dates_ahead(db: Database) -> None:
    async with db.session() as session:
        officers = await session.scalar(select(Event).where(Event.rrule.is_not(None)))
        assert officers is not None
        officers.status = "cancelled"
    async with db.read() as session:
        coming = await reference.coming_event_dates(session, date(2026, 12, 1), first=11)
        records = await reference.events(session)
    assert all(e.id != officers.id for e in coming)
    (record,) = (r for r in records if r.id == officers.id)
    assert next_occurrences(record, date(2026, 12, 1), 2) == []


FIRST_MOVED = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Exampleton//Cabinet//EN
BEGIN:VEVENT
UID:first-moved@council.example
DTSTART:20270105T100000Z
RRULE:FREQ=WEEKLY;COUNT=4
SUMMARY:Sample Board
END:VEVENT
BEGIN:VEVENT
UID:first-moved@council.example
RECURRENCE-ID:20270105T100000Z
DTSTART:20270105T140000Z
SUMMARY:Sample Board
END:VEVENT
BEGIN:VEVENT
UID:another@council.example
DTSTART:20270105T100000Z
SUMMARY:Sample Board
END:VEVENT
END:VCALENDAR
"""


async def test_an_override_of_the_first_date_is_its_own_event_not_a_duplicate(
    db: Database, tmp_path: Path
) -> None:
    # The override and the series share a title and a first day, as does another calendar's
    # event: each has a UID, so the title and day (for events without one) must not clash.
    path = tmp_path / "board.ics"
    path.write_bytes(FIRST_MOVED)
    for created in (3, 0):  # the second import finds each by its UID
        async with db.session() as session:
            report = await import_file(session, "events", path)
        assert (report.created, report.errors) == (created, ())
    async with db.read() as session:
        rows = list(await session.scalars(select(Event).where(Event.uid.like("%council.example"))))
    series = next(e for e in rows if e.uid == "first-moved@council.example" and not e.recurrence_on)
    moved = next(e for e in rows if e.recurrence_on is not None)
    assert series.exdates == ["2027-01-05"] and series.start_time == time(10, 0)
    assert (moved.recurrence_on, moved.starts_on, moved.start_time) == (
        date(2027, 1, 5),
        date(2027, 1, 5),
        time(14, 0),
    )
    assert len(rows) == 3
