"""Importing case studies, projects, suppliers and events from CSV, JSON and iCalendar files."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from dateutil.rrule import rrulestr
from sqlalchemy import func, select

from ccin_bridge.store import search, seed
from ccin_bridge.store.db import Database
from ccin_bridge.store.importers import (
    ImportFileError,
    ImportReport,
    Kind,
    RowError,
    import_file,
    import_in_batches,
)
from ccin_bridge.store.importers_ics import IcsEvent, IcsProblem, read_calendar
from ccin_bridge.store.models import CaseStudy, Event, Project, SearchPending, Supplier

SAMPLES = Path(__file__).parent / "import_samples"
# handlers/dates.py expands every stored RRULE from this fixed date, not from the event's start.
HANDLER_ANCHOR = datetime(2012, 1, 1)  # noqa: DTZ001 (wall-clock, as the handler uses it)


async def run(db: Database, kind: Kind, path: Path, **options: Any) -> ImportReport:
    async with db.session() as session:
        return await import_file(session, kind, path, **options)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


async def studies(db: Database) -> dict[str, CaseStudy]:
    async with db.session() as session:
        return {c.url or "": c for c in await session.scalars(select(CaseStudy))}


async def events(db: Database, *, overrides: bool = False) -> dict[str, Event]:
    """Imported events by title: the series and one-off events, or the changed dates of a
    series (RECURRENCE-ID), which share its title."""
    replaces = Event.recurrence_on.is_not(None) if overrides else Event.recurrence_on.is_(None)
    async with db.session() as session:
        return {
            e.title: e
            for e in await session.scalars(
                select(Event).where(Event.source.like("import:%"), replaces)
            )
        }


# --- case studies ----------------------------------------------------------------------------


async def test_case_studies_from_csv_with_bom_lists_and_links(db: Database) -> None:
    report = await run(db, "case-studies", SAMPLES / "case_studies.csv")
    assert report == ImportReport(created=3, updated=0, unchanged=0, encoding="UTF-8")
    rows = await studies(db)
    exampleton = rows["https://councils.coop/case-studies/exampleton-wealth"]
    assert exampleton.title == "Community Wealth in Exampleton"  # the BOM is not part of "title"
    assert exampleton.categories == ["Community wealth building", "Local economy"]
    assert exampleton.principles == ["Social partnerships", "Co-production"]
    assert exampleton.year == "2024"
    assert (
        exampleton.body
        == "Exampleton's council worked with its anchor institutions.\nA second paragraph."
    )
    assert exampleton.source == "import:case_studies.csv:2"
    sampleford = rows["https://councils.coop/case-studies/sampleford-cafe"]
    assert sampleford.categories == ["Food", "Community"]  # a JSON array in a cell
    assert (sampleford.principles, sampleford.body, sampleford.source) == (
        [],
        "",
        "import:case_studies.csv:4",
    )
    assert (
        rows["https://councils.coop/case-studies/testbury-repair"].title
        == "Testbury Repair Shops 🔧"
    )


async def test_imported_case_studies_are_searchable(db: Database) -> None:
    await run(db, "case-studies", SAMPLES / "case_studies.csv")
    async with db.session() as session:
        page = await search.search(session, "hedgehog")
        repair = await search.search(session, "repair", limit=20)
    assert [hit.title for hit in page.hits] == ["Community Wealth in Exampleton"]
    assert page.hits[0].url == "https://councils.coop/case-studies/exampleton-wealth"
    assert "Testbury Repair Shops 🔧" in [hit.title for hit in repair.hits]


async def test_reimport_updates_in_place(db: Database, tmp_path: Path) -> None:
    await run(db, "case-studies", SAMPLES / "case_studies.csv")
    again = await run(db, "case-studies", SAMPLES / "case_studies.csv")
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 3, ())

    text = (SAMPLES / "case_studies.csv").read_text(encoding="utf-8-sig")
    text = text.replace(
        "Repair cafés keep goods out of landfill.", "Repair cafés mend 900 toasters."
    )
    text += "Bristol Energy Co-op,councils.coop/case-studies/bristol-energy,,,2021,,,,\n"
    changed = await run(db, "case-studies", write(tmp_path, "case_studies_v2.csv", text))
    assert (changed.created, changed.updated, changed.unchanged) == (1, 1, 2)
    rows = await studies(db)
    assert len(rows) == 4
    lambeth = rows["https://councils.coop/case-studies/testbury-repair"]
    assert lambeth.summary == "Repair cafés mend 900 toasters."
    assert lambeth.source == "import:case_studies_v2.csv:5"


async def test_only_the_columns_a_file_has_are_written(db: Database, tmp_path: Path) -> None:
    await run(db, "case-studies", SAMPLES / "case_studies.csv")
    partial = "url,title,region\ncouncils.coop/case-studies/sampleford-cafe,Sampleford cafés,\n"
    report = await run(db, "case-studies", write(tmp_path, "partial.csv", partial))
    assert report.updated == 1
    sampleford = (await studies(db))["https://councils.coop/case-studies/sampleford-cafe"]
    assert sampleford.title == "Sampleford cafés"
    assert sampleford.region is None  # present but empty: cleared
    assert sampleford.member == "Sampleford Council"  # absent: left alone
    assert sampleford.categories == ["Food", "Community"]


async def test_bad_csv_rows_are_named_by_line_and_good_rows_kept(
    db: Database, tmp_path: Path
) -> None:
    too_long = "x" * 301
    text = (
        "title,url,year,summary\n"
        'Good one,councils.coop/a,2024,"Line one\nline two"\n'  # lines 2-3
        ",councils.coop/b,2024,no title\n"
        "No url,,2024,\n"
        "Bad year,councils.coop/c,20x5,\n"
        f"{too_long},councils.coop/d,2024,\n"
        "Duplicate,councils.coop/a,2024,\n"
        "Extra cells,councils.coop/e,2024,summary,surplus\n"
        "\n"
        "Good two,https://councils.coop/f,,\n"
    )
    report = await run(db, "case-studies", write(tmp_path, "mixed.csv", text))
    assert report.errors == (
        RowError("line 4", "missing title"),
        RowError("line 5", "missing url"),
        RowError("line 6", "year '20x5' is not a year (e.g. 2024 or 2024/25)"),
        RowError("line 7", "title is too long (301 characters; at most 300)"),
        RowError("line 8", "duplicate url in the file (first on line 2)"),
        RowError("line 9", "has 5 cells but the header has 4 columns"),
    )
    assert report.created == 2
    assert (
        report.summary() == "2 created, 0 updated, 0 unchanged; 6 rows skipped because of errors."
        " Read as UTF-8 text."
    )
    rows = await studies(db)
    assert rows["https://councils.coop/a"].summary == "Line one\nline two"
    assert rows["https://councils.coop/f"].source == "import:mixed.csv:11"


MIXED = (
    "title,url,year,summary\n"
    'Good one,councils.coop/a,2024,"Line one\nline two"\n'  # lines 2-3
    ",councils.coop/b,2024,no title\n"
    "No url,,2024,\n"
    "Bad year,councils.coop/c,20x5,\n"
    "Good three,councils.coop/d,2024,\n"
    "Duplicate,councils.coop/a,2024,\n"  # in the third batch: the first is in the first
    "Extra cells,councils.coop/e,2024,summary,surplus\n"
    "\n"
    "Good two,https://councils.coop/f,,\n"
)
MIXED_ERRORS = (
    RowError("line 4", "missing title"),
    RowError("line 5", "missing url"),
    RowError("line 6", "year '20x5' is not a year (e.g. 2024 or 2024/25)"),
    RowError("line 8", "duplicate url in the file (first on line 2)"),
    RowError("line 9", "has 5 cells but the header has 4 columns"),
)


async def test_a_streamed_import_commits_in_batches_with_the_same_report(
    db: Database, tmp_path: Path
) -> None:
    path = write(tmp_path, "mixed.csv", MIXED)
    opened: list[int] = []

    @asynccontextmanager
    async def units() -> AsyncIterator[Any]:
        async with db.session() as session:
            opened.append(1)
            yield session

    calls: list[tuple[int, int]] = []
    report = await import_in_batches(
        units, "case-studies", path, rows=2, progress=lambda *call: calls.append(call)
    )
    assert report == ImportReport(3, 0, 0, errors=MIXED_ERRORS, encoding="UTF-8")
    assert len(opened) == 4  # 7 rows read (line 9 fails as it is read), 2 at a time
    assert calls[0] == (0, 8) and calls[-1] == (8, 8)  # 8 rows in the file
    async with db.session() as session:
        page = await search.search(session, "good", kinds=("case_study",))
        assert not await session.scalar(select(func.count()).select_from(SearchPending))
    assert {h.title for h in page.hits} == {"Good one", "Good two", "Good three"}


async def test_an_interrupted_streamed_import_keeps_its_committed_batches(
    db: Database, tmp_path: Path
) -> None:
    path = write(tmp_path, "mixed.csv", MIXED)
    opened: list[int] = []

    @asynccontextmanager
    async def units() -> AsyncIterator[Any]:
        if opened:
            raise RuntimeError("the database went away")
        async with db.session() as session:
            opened.append(1)
            yield session

    with pytest.raises(RuntimeError):
        await import_in_batches(units, "case-studies", path, rows=2)
    async with db.session() as session:
        page = await search.search(session, "good", kinds=("case_study",))
    assert [h.title for h in page.hits] == ["Good one"]  # written and indexed together


async def test_unicode_is_kept_and_normalised(db: Database, tmp_path: Path) -> None:
    title = "Cafe\u0301 ☕ — עברית\u200d and a\x00 NUL"
    rows = [{"title": title, "url": "councils.coop/unicode", "summary": "Ｆｕｌｌ width\r\nnext"}]
    report = await run(db, "case-studies", write(tmp_path, "u.json", json.dumps(rows)))
    assert report.created == 1
    study = (await studies(db))["https://councils.coop/unicode"]
    assert study.title == "Café ☕ — עברית\u200d and a NUL"
    assert study.summary == "Ｆｕｌｌ width\nnext"


async def test_long_file_names_are_shortened_in_source(db: Database, tmp_path: Path) -> None:
    name = "a-very-long-export-name-" * 5 + ".csv"
    path = write(tmp_path, name, "title,url\nOne,councils.coop/one\n")
    await run(db, "case-studies", path)
    source = (await studies(db))["https://councils.coop/one"].source
    assert len(source) == 80
    assert source.startswith("import:a-very-long-export-name-")
    assert source.endswith("…:2")


async def test_two_thousand_rows_in_batches_with_progress(db: Database, tmp_path: Path) -> None:
    lines = ["title,url,member,year,categories,summary"]
    lines += [
        f"Case study {i},councils.coop/cs/{i},Council {i % 40},{2000 + i % 25},A;B,Summary {i}"
        for i in range(2000)
    ]
    path = write(tmp_path, "big.csv", "\n".join(lines) + "\n")
    calls: list[tuple[int, int]] = []
    report = await run(
        db, "case-studies", path, progress=lambda done, total: calls.append((done, total))
    )
    assert report.created == 2000 and not report.errors
    assert calls == [(0, 2000), (500, 2000), (1000, 2000), (1500, 2000), (2000, 2000)]
    again = await run(db, "case-studies", path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2000)
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(CaseStudy)) == 2000
        page = await search.search(session, "case study 1999")
    assert page.hits[0].title == "Case study 1999"


# --- projects --------------------------------------------------------------------------------


async def test_projects_from_json(db: Database) -> None:
    async with db.session() as session:
        before = int(await session.scalar(select(func.count()).select_from(Project)) or 0)
    report = await run(db, "projects", SAMPLES / "projects.json")
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    assert report.errors == (
        RowError(
            "index 3",
            "unknown project kind 'workshop' (use policy_lab, policy_prototype, report, other)",
        ),
        RowError("index 4", "is not an object (found str)"),
        RowError("index 5", "missing title"),
    )
    assert report.ignored_columns == ("region",)
    async with db.session() as session:
        rows = {p.title: p for p in await session.scalars(select(Project))}
    assert len(rows) == before + 3
    ai = rows["Values-led Automation Pilot"]
    assert ai.url == "https://councils.coop/projects/values-led-automation"
    assert (ai.kind, ai.year, ai.lead) == ("policy_lab", "2025", "Demoshire Council")
    assert ai.partners == ["Example Partners Ltd", "Sample Co-op"]
    repair = rows["Repair Café Network"]
    assert repair.lead == "Testbury Council"  # an empty lead falls back to the member
    assert repair.partners == ["Repair Circle", "Tool Share"]
    assert repair.kind == "policy_prototype"
    review = rows["Annual Review 2025/26"]
    assert (review.kind, review.lead, review.source) == ("other", None, "import:projects.json:[2]")


async def test_projects_from_csv_reimport_by_url(db: Database, tmp_path: Path) -> None:
    text = "title,url,kind,lead,year\nGreen Streets,councils.coop/p/green,report,Sampleford,2024\n"
    assert (await run(db, "projects", write(tmp_path, "p.csv", text))).created == 1
    renamed = text.replace("Green Streets", "Greener Streets")
    report = await run(db, "projects", write(tmp_path, "p.csv", renamed))
    assert (report.created, report.updated) == (0, 1)
    async with db.session() as session:
        project = await session.scalar(
            select(Project).where(Project.url == "https://councils.coop/p/green")
        )
    assert project is not None and project.title == "Greener Streets"


async def test_project_url_and_title_of_two_projects_is_refused(
    db: Database, tmp_path: Path
) -> None:
    rows = [
        # the url of one seeded project, the title of another
        {"title": "Social Value Toolkit for Cooperative Councils", "url": "bit.ly/CCIN-coopdevt"},
        # found by title, so its url changes ...
        {"title": "Cooperative Values-driven AI", "url": "councils.coop/p/ai"},
        # ... and this row, with the project's old url, must not update it a second time
        {"title": "Something else", "url": "bit.ly/CCIN-coop-AI"},
    ]
    report = await run(db, "projects", write(tmp_path, "clash.json", json.dumps(rows)))
    assert report.errors == (
        RowError("index 0", "its url or title matches more than one existing project"),
        RowError("index 2", "updates the same project as index 1"),
    )
    assert (report.created, report.updated) == (0, 1)


# --- suppliers -------------------------------------------------------------------------------


async def test_suppliers_from_csv(db: Database) -> None:
    report = await run(db, "suppliers", SAMPLES / "suppliers.csv")
    assert (report.created, report.updated, report.errors) == (
        2,
        0,
        (RowError("line 4", "missing name"),),
    )
    async with db.session() as session:
        rows = {s.name: s for s in await session.scalars(select(Supplier))}
        page = await search.search(session, "facilitation", kinds=("supplier",))
    assert len(rows) == 25
    collins = rows["Example Legal LLP"]
    assert collins.lots == ["Legal", "Governance"]
    assert collins.website == "https://www.example.org"
    assert collins.source == "import:suppliers.csv:2"
    assert rows["Sample Facilitation Co-op"].lots == ["Facilitation", "Research"]
    assert rows["Sample Facilitation Co-op"].website is None
    assert [hit.title for hit in page.hits] == ["Sample Facilitation Co-op"]


async def test_suppliers_from_json(db: Database, tmp_path: Path) -> None:
    rows = [{"name": "Sample Advice Co-op", "lots": ["Advice"], "services": None, "website": None}]
    path = write(tmp_path, "s.json", json.dumps(rows))
    assert (await run(db, "suppliers", path)).created == 1
    assert (await run(db, "suppliers", path)).unchanged == 1
    rows[0]["lots"] = ["Advice", "Training"]  # same name: updated in place
    report = await run(db, "suppliers", write(tmp_path, "s.json", json.dumps(rows)))
    assert (report.created, report.updated) == (0, 1)


# --- events ----------------------------------------------------------------------------------


async def test_events_from_csv_in_london_wall_clock(db: Database) -> None:
    report = await run(db, "events", SAMPLES / "events.csv")
    assert (report.created, report.errors) == (4, ())
    rows = await events(db)
    showcase = rows["Spring Policy Lab Showcase"]  # 09:00 UTC, two days after the clocks change
    assert (showcase.starts_on, showcase.start_time) == (date(2026, 3, 31), time(10, 0))
    assert (showcase.ends_on, showcase.duration_minutes) == (date(2026, 3, 31), 150)
    assert (showcase.online, showcase.url) == (False, "https://councils.coop/events/showcase")
    winter = rows["Winter Members' Call"]  # GMT: no change
    assert (winter.start_time, winter.duration_minutes, winter.online) == (time(9, 0), 60, True)
    conference = rows["CCIN Annual Conference"]
    assert (conference.starts_on, conference.ends_on) == (date(2026, 7, 2), date(2026, 7, 3))
    assert (conference.start_time, conference.duration_minutes) == (None, None)
    clinic = rows["Co-op Clinic"]
    assert clinic.rrule == "FREQ=WEEKLY;BYDAY=TU"  # the start's weekday, written into the rule
    assert clinic.status == "planned"
    again = await run(db, "events", SAMPLES / "events.csv")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


async def test_event_start_converts_into_the_given_zone(db: Database, tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    path = write(tmp_path, "e.csv", "title,starts\nCall,2026-03-31T09:00:00Z\n")
    await run(db, "events", path, zone=ZoneInfo("America/New_York"))
    call = (await events(db))["Call"]
    assert (call.starts_on, call.start_time) == (date(2026, 3, 31), time(5, 0))


async def test_bad_event_rows_in_json(db: Database, tmp_path: Path) -> None:
    rows: list[object] = [
        {"title": "A", "starts": "2026-02-30"},
        {"title": "B", "starts": "2026-05-01", "ends": "2026-04-01"},
        {"title": "C", "starts": "2026-05-01", "online": "maybe"},
        {"title": {"en": "D"}, "starts": "2026-05-01"},
        {"title": "E\ud800", "starts": "2026-05-01"},
        {"title": "F", "starts": "2026-05-01", "rrule": "FREQ=HOURLY"},
        {"title": "G", "starts": "2026-05-01", "rrule": "FREQ=WEEKLY;INTERVAL=0"},
        {"title": "H", "starts": "2026-05-01", "status": "postponed"},
        {"title": "I", "starts": "2026-05-01", "rrule": "FREQ=DAILY;COUNT=2;UNTIL=20260601"},
        {
            "title": "Good",
            "starts": "2026-05-01",
            "rrule": "RRULE:FREQ=WEEKLY;UNTIL=20260601T000000Z",
        },
        {"title": "Good", "starts": "2026-05-01"},
        {"title": "J"},
    ]
    report = await run(db, "events", write(tmp_path, "e.json", json.dumps(rows)))
    assert [(e.where, e.reason) for e in report.errors] == [
        (
            "index 0",
            "starts '2026-02-30' is not a valid date (e.g. 2026-03-31 or 2026-03-31T09:00)",
        ),
        ("index 1", "the event ends before it starts"),
        ("index 2", "online 'maybe' is not yes or no"),
        ("index 3", "title must be text, not an object"),
        ("index 4", "title contains invalid Unicode (an unpaired surrogate)"),
        ("index 5", "rrule 'FREQ=HOURLY' must repeat DAILY, WEEKLY, MONTHLY or YEARLY"),
        ("index 6", "rrule INTERVAL '0' must be a whole number from 1"),
        ("index 7", "unknown event status 'postponed' (use planned, held, superseded, cancelled)"),
        ("index 8", "rrule 'FREQ=DAILY;COUNT=2;UNTIL=20260601' has both COUNT and UNTIL; use one"),
        ("index 10", "duplicate title and start date in the file (first on index 9)"),
        ("index 11", "missing starts date"),
    ]
    good = (await events(db))["Good"]
    # 1 May 2026 is a Friday; midnight UTC on 1 June is 1am in London, still 1 June
    assert good.rrule == "FREQ=WEEKLY;UNTIL=20260601;BYDAY=FR"


async def test_calendar_file_with_a_recurring_event_and_the_clocks_changing(
    db: Database,
) -> None:
    path = SAMPLES / "calendar.ics"
    starts = [
        n for n, line in enumerate(path.read_text().splitlines(), 1) if line == "BEGIN:VEVENT"
    ]
    report = await run(db, "events", path)
    assert report.created == 4  # the series' 7 April meeting, moved to 8 April, is a row
    assert report.errors == (RowError(f"line {starts[4]}", "missing start date (no DTSTART)"),)
    rows = await events(db)
    officers = rows["Sample Network, monthly call"]
    assert (officers.starts_on, officers.start_time) == (date(2026, 3, 3), time(10, 0))
    assert officers.duration_minutes == 90
    assert officers.summary == "Agenda:\n1. Updates; news\n2. AOB \\ questions"  # not the VALARM's
    assert officers.location == "Online"
    assert officers.source == f"import:calendar.ics:{starts[0]}"
    assert officers.rrule == "FREQ=MONTHLY;BYDAY=1TU;UNTIL=20260804T100000"  # COUNT=6
    assert (officers.uid, officers.exdates, officers.recurrence_on) == (
        "officer-network@example.org",
        ["2026-04-07"],  # moved: its override says where
        None,
    )
    moved = (await events(db, overrides=True))["Sample Network, monthly call"]
    assert (moved.uid, moved.recurrence_on) == ("officer-network@example.org", date(2026, 4, 7))
    assert (moved.starts_on, moved.start_time) == (date(2026, 4, 8), time(10, 0))
    # Expanded the way the handler does, the rule keeps its day and its end without DTSTART.
    expanded = rrulestr(officers.rrule, dtstart=HANDLER_ANCHOR)
    first = datetime.combine(date(2026, 3, 3), time.min)
    assert [d.date() for d in expanded.xafter(first, inc=True)] == [
        date(2026, 3, 3), date(2026, 4, 7), date(2026, 5, 5),
        date(2026, 6, 2), date(2026, 7, 7), date(2026, 8, 4),
    ]  # fmt: skip
    showcase = rows["Spring Policy Lab Showcase"]
    assert (showcase.starts_on, showcase.start_time) == (date(2026, 3, 31), time(10, 0))
    assert showcase.duration_minutes == 150
    assert showcase.summary == "A long description that the producer folded across two lines."
    away = rows["Policy Lab away day"]
    assert (away.starts_on, away.ends_on, away.start_time) == (
        date(2026, 6, 12),
        date(2026, 6, 12),
        None,
    )
    assert away.status == "cancelled"
    again = await run(db, "events", path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


def test_calendar_reader_unfolds_bytes_and_reads_parameters() -> None:
    data = (
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Caf"
        + "é".encode()[:1]
        + b"\r\n "
        + "é".encode()[1:]
        + b" meeting\r\n"
        b'ATTENDEE;CN="Smith: Jo";ROLE=CHAIR:mailto:jo@example.org\r\n'
        b"DTSTART;TZID=GMT Standard Time:20260701T090000\r\n"
        b"DURATION:PT1H30M\r\n"
        b"END:VEVENT\r\n"
        b"BEGIN:VEVENT\r\n"
        b'DTSTART;TZID="/example.org/tzdata/America/New_York":20260105T090000\r\n'
        b"DTEND:20260105T150000Z\r\n"
        b"END:VEVENT\r\n"
        b"BEGIN:VEVENT\r\n"
        b"DTSTART:20260230T090000Z\r\n"
        b"END:VEVENT\r\n"
        b"BEGIN:VEVENT\r\n"
        b"DTSTART;TZID=Mars/Olympus:20260101T090000\r\n"
        b"END:VEVENT\r\n"
        b"BEGIN:VEVENT\r\n"
        b"DTSTART:20260101\r\n"
    )
    first, second, bad_date, bad_zone, unclosed = read_calendar(data)
    assert isinstance(first, IcsEvent) and first.line == 2
    assert first.fields["title"] == "Café meeting"
    start = first.fields["starts"]
    assert isinstance(start, datetime) and start.utcoffset() is not None
    assert start.hour == 9 and str(start.tzinfo) == "Europe/London"
    assert first.fields["ends"] == start.replace(hour=10, minute=30)
    assert isinstance(second, IcsEvent)
    second_start = second.fields["starts"]
    assert isinstance(second_start, datetime)
    assert str(second_start.tzinfo) == "America/New_York"
    assert second.fields["ends"] == datetime(2026, 1, 5, 15, tzinfo=UTC)
    assert bad_date == IcsProblem(13, "DTSTART '20260230T090000Z' cannot be read")
    assert bad_zone == IcsProblem(16, "DTSTART has an unknown time zone 'Mars/Olympus'")
    assert unclosed == IcsProblem(19, "the event is not closed (no END:VEVENT)")


# --- files that cannot be imported -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "content", "message"),
    [
        ("case-studies", "missing.csv", None, r"missing\.csv: no such file"),
        # Neither UTF-8 nor Windows-1252 (0x81 is no character in it): refused.
        ("case-studies", "latin1.csv", b"title,url\nCaf\x81,x\n", r"line 2 is not UTF-8 text"),
        ("case-studies", "bad.json", b'[{"title": ', r"not valid JSON \(line 1, column 12"),
        (
            "case-studies",
            "object.json",
            b'{"title": "x"}',
            r"expected a list of objects.*an object",
        ),
        (
            "case-studies",
            "nourl.csv",
            b"title,link\nA,b\n",
            r"header row \(line 1\) has no url column",
        ),
        ("projects", "semi.csv", b"title;url\nA;b\n", r"no title or url column; .*semicolon"),
        ("suppliers", "twice.csv", b"name,Name\n", r"the header names name twice"),
        ("suppliers", "empty.csv", b"", r"empty\.csv: the file is empty"),
        ("suppliers", "list.xlsx", b"PK", r"list\.xlsx: not an Excel workbook that can be read"),
        ("suppliers", "list.xls", b"PK", r"from \.csv, \.xlsx, \.json files, not \.xls"),
        (
            "case-studies",
            "cal.ics",
            b"BEGIN:VCALENDAR\n",
            r"from \.csv, \.xlsx, \.json files, not \.ics",
        ),
        ("events", "cal.ics", b"hello\n", r"not an iCalendar file"),
        ("events", "bad.ics", b"BEGIN:VCALENDAR\nSUMMARY:\xff\n", r"line 2 is not UTF-8 text"),
    ],
)
async def test_a_file_that_cannot_be_read_raises_and_writes_nothing(
    sqlite_db: Database,
    tmp_path: Path,
    kind: Kind,
    name: str,
    content: bytes | None,
    message: str,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    async with sqlite_db.session() as session:
        before = await seed.counts(session)
    with pytest.raises(ImportFileError, match=message):
        await run(sqlite_db, kind, path)
    async with sqlite_db.session() as session:
        assert await seed.counts(session) == before


def test_report_summary_names_ignored_columns() -> None:
    report = ImportReport(1, 0, 2, (RowError("line 3", "missing url"),), ("colour",))
    assert report.summary() == (
        "1 created, 0 updated, 2 unchanged; 1 row skipped because of errors; "
        "ignored columns: colour."
    )
