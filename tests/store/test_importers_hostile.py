"""Files made to hurt the importer, or that hurt it by accident: thousands of unclosed quotes,
workbooks that claim a huge sheet or unpack to far more than they weigh."""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from ccin_bridge.scheduler import feed_jobs
from ccin_bridge.store import event_feeds
from ccin_bridge.store.db import Database
from ccin_bridge.store.importers import ImportFileError, RowError, import_file, import_in_batches
from ccin_bridge.store.models import Event, Supplier


async def test_thousands_of_unclosed_quotes_are_each_reported(db: Database, tmp_path: Path) -> None:
    # Each line opens a quote that runs to the end of the file: the old recovery re-read the
    # rest once per line, nested, and raised RecursionError after about a thousand.
    path = tmp_path / "suppliers.csv"
    path.write_text("name,website\n" + 'a","\n' * 5_000 + "Zeta Ltd,zeta.example\n")
    async with db.session() as session:
        report = await import_file(session, "suppliers", path)
    reason = (
        'a quote (") opens a cell here and is never closed; this line was skipped'
        " and the lines after it were read on their own"
    )
    assert report.errors == tuple(RowError(f"line {n}", reason) for n in range(2, 5_002))
    async with db.read() as session:
        names = set(await session.scalars(select(Supplier.name)))
    assert "Zeta Ltd" in names and not any(name.startswith("a") for name in names)


async def test_unclosed_quotes_among_good_rows_and_quoted_line_breaks(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "suppliers.csv"
    path.write_text(
        'name,services\n"Alpha\nLtd",one\nBeta,"two\nlines"\nGamma,"g""\nDelta,"",d\nZeta,z\n'
    )
    async with db.session() as session:
        report = await import_file(session, "suppliers", path)
    assert [e.where for e in report.errors] == ["line 6", "line 7"]
    async with db.read() as session:
        found = {s.name: s.services for s in await session.scalars(select(Supplier))}
    # Lines 6 and 7 each open a quote the file never closes (from line 6, line 7's `""` is
    # a quote inside the cell); line 8 is read on its own.
    wanted = {"Alpha Ltd": "one", "Beta": "two\nlines", "Zeta": "z"}
    assert {name: found.get(name) for name in wanted} == wanted
    assert not any(name.startswith(("Gamma", "Delta")) for name in found)


async def test_an_event_link_that_is_not_a_web_address_is_dropped_with_a_warning(
    db: Database, tmp_path: Path
) -> None:
    # A council's feed may link an event to its intranet: the event must still import (and
    # keep updating), without the link; a case study's link is still required and checked.
    path = tmp_path / "feed.ics"
    path.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        "BEGIN:VEVENT\r\nUID:one@example.org\r\nDTSTART;VALUE=DATE:20270115\r\n"
        "SUMMARY:Policy lab\r\nURL:http://intranet/events/1\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:two@example.org\r\nDTSTART;VALUE=DATE:20270116\r\n"
        "SUMMARY:Showcase\r\nURL:https://councils.coop/events/showcase\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    async with db.session() as session:
        report = await import_file(session, "events", path)
    assert (report.created, report.errors) == (2, ())
    assert report.warnings == (
        RowError(
            "line 4",
            "url 'http://intranet/events/1' is not a web address (e.g. https://example.org/page)"
            "; the event was imported without its link",
        ),
    )
    assert "1 row imported with a warning" in report.summary()
    async with db.read() as session:
        links = {e.title: e.url for e in await session.scalars(select(Event))}
    assert links["Policy lab"] is None
    assert links["Showcase"] == "https://councils.coop/events/showcase"

    studies = tmp_path / "studies.csv"
    studies.write_text("title,url\nA study,http://10.0.0.1/study\n")
    async with db.session() as session:
        refused = await import_file(session, "case-studies", studies)
    assert (refused.created, [e.where for e in refused.errors]) == (0, ["line 2"])


def _workbook(path: Path, *rows: list[object]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


async def test_a_workbook_claiming_the_whole_sheet_reads_only_its_header_columns(
    db: Database, tmp_path: Path
) -> None:
    # 5 KB, but one cell at XFD1048576: openpyxl padded every row to 16,384 cells (hours).
    path = tmp_path / "suppliers.xlsx"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["name", "website"])
    sheet.append(["Alpha Ltd", "alpha.example"])
    sheet["C3"] = "stray"
    sheet["XFD1048576"] = "far away"
    book.save(path)
    async with db.session() as session:
        report = await import_file(session, "suppliers", path)
    assert report.created == 1
    assert report.errors == (
        RowError("row 3", "has a value in column C, which has no name in the header row"),
    )


async def test_a_workbook_that_unpacks_to_too_much_is_refused(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "suppliers.xlsx", ["name"], ["Alpha Ltd"])
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/padding.bin", bytes(101 * 1024 * 1024))  # about 100 KB packed
    with pytest.raises(ImportFileError, match="unpacks to 101 MB, more than the 100 MB"):
        await import_file(None, "suppliers", path)  # type: ignore[arg-type]  # not reached


async def test_a_header_wider_than_a_sheet_to_import_is_refused(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "suppliers.xlsx", ["name", *[None] * 300, "notes"])
    with pytest.raises(ImportFileError, match="reaches column KP; a sheet to import can have"):
        await import_file(None, "suppliers", path)  # type: ignore[arg-type]  # not reached


@pytest.fixture
def workbook_feed(tmp_path: Path) -> Iterator[str]:
    """A feed URL without a file name whose server says it is an Excel workbook."""
    body = _workbook(
        tmp_path / "export.xlsx", ["title", "starts"], ["Policy lab", "2027-01-15"]
    ).read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/export"
    server.shutdown()
    server.server_close()


async def test_a_calendar_feed_that_is_a_workbook_is_refused(
    db: Database, workbook_feed: str
) -> None:
    async with db.session() as session:
        feed_id = await event_feeds.subscribe(session, workbook_feed, 60)
    now = datetime(2027, 1, 1, tzinfo=UTC)
    zone = ZoneInfo("Europe/London")  # the fake is on 127.0.0.1: the opt-in
    assert await feed_jobs.refresh(db, feed_id, zone, now, allow_private=True) is None
    async with db.read() as session:
        error = await event_feeds.last_error(session, feed_id)
        titles = list(await session.scalars(select(Event.title)))
    assert error is not None
    assert "a calendar feed must be an iCalendar, CSV or JSON file" in error
    assert "not an Excel workbook (.xlsx)" in error
    assert "Policy lab" not in titles


async def test_a_workbook_streams_in_batches_with_its_sheet_size_as_the_total(
    db: Database, tmp_path: Path
) -> None:
    # A blank row and a bad one: the total is the sheet's 6 data rows, not the 4 good ones
    # that reading it whole first would count.
    path = _workbook(
        tmp_path / "suppliers.xlsx",
        ["name", "website"],
        ["Alpha Ltd", "alpha.example"],
        ["Beta Ltd", "beta.example"],
        [None, None],
        ["Gamma Ltd", "not a link"],
        ["Delta Ltd", "delta.example"],
        ["Epsilon Ltd", "epsilon.example"],
    )
    calls: list[tuple[int, int]] = []
    report = await import_in_batches(
        db.session, "suppliers", path, rows=2, progress=lambda *call: calls.append(call)
    )
    assert (report.created, [e.where for e in report.errors]) == (4, ["row 5"])
    assert calls == [(0, 6), (2, 6), (4, 6), (5, 6), (6, 6)]
