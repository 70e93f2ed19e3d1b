"""Spreadsheet files as people export them: Excel workbooks, Excel's Windows-1252 CSV, an
unclosed quote, and links that are not web addresses."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import select

from ccin_bridge.store.db import Database
from ccin_bridge.store.importers import RowError, import_file
from ccin_bridge.store.models import Event, Supplier


async def _suppliers(db: Database) -> dict[str, Supplier]:
    async with db.read() as session:
        return {s.name: s for s in await session.scalars(select(Supplier))}


async def test_an_unclosed_quote_is_reported_and_the_lines_after_it_are_kept(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "suppliers.csv"
    path.write_text(
        'name,website\nAlpha Ltd,alpha.example\n"Beta Ltd,beta.example\n'
        "Gamma Ltd,gamma.example\nDelta Ltd,delta.example\n",
        encoding="utf-8",
    )
    async with db.session() as session:
        report = await import_file(session, "suppliers", path)
    assert report.created == 3
    [error] = report.errors
    assert error.where == "line 3" and 'a quote (") opens a cell here and is never closed' in (
        error.reason
    )
    found = await _suppliers(db)
    assert {"Alpha Ltd", "Gamma Ltd", "Delta Ltd"} <= set(found)
    assert not any("\n" in name for name in found)  # nothing swallowed into one name
    assert found["Delta Ltd"].website == "https://delta.example"


async def test_a_link_that_is_not_a_web_address_is_refused(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "suppliers.csv"
    path.write_text(
        "name,website\nAlpha Ltd,not-a-url\nBeta Ltd,ftp://beta.example\nGamma Ltd,bit.ly/x1\n",
        encoding="utf-8",
    )
    async with db.session() as session:
        report = await import_file(session, "suppliers", path)
    assert report.errors == (
        RowError(
            "line 2", "website 'not-a-url' is not a web address (e.g. https://example.org/page)"
        ),
        RowError(
            "line 3",
            "website 'ftp://beta.example' is not a web address (e.g. https://example.org/page)",
        ),
    )
    found = await _suppliers(db)
    assert found["Gamma Ltd"].website == "https://bit.ly/x1"
    assert "Alpha Ltd" not in found


async def test_excel_comma_delimited_csv_is_read_as_windows_1252_and_says_so(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "suppliers.csv"
    # What Excel's "CSV (Comma delimited)" writes: no BOM, é as 0xE9, ’ as 0x92.
    path.write_bytes("name,website\nCafé Co’op Ltd,cafe.example\n".encode("cp1252"))
    async with db.session() as session:
        report = await import_file(session, "suppliers", path)
    assert report.created == 1 and report.encoding == "Windows-1252"
    assert "Read as Windows-1252 text (Excel's “CSV (Comma delimited)”)" in report.summary()
    assert "Café Co’op Ltd" in await _suppliers(db)


async def test_utf8_with_or_without_a_bom_is_read_as_utf8(db: Database, tmp_path: Path) -> None:
    for name, data in (
        ("bom.csv", "\ufeffname\nŁódź Co-op Ltd\n".encode()),
        ("plain.csv", "name\nCafé Ltd\n".encode()),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        async with db.session() as session:
            report = await import_file(session, "suppliers", path)
        assert report.created == 1 and report.encoding == "UTF-8"
        assert report.summary().endswith("Read as UTF-8 text.")
    assert {"Łódź Co-op Ltd", "Café Ltd"} <= set(await _suppliers(db))


async def test_an_excel_workbook_imports_from_its_first_sheet(db: Database, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Title", "Starts", "Location"])
    sheet.append(["Spreadsheet gathering", date(2027, 3, 4), "Exampleton"])
    sheet.append([None, None, None])  # a blank row is skipped
    sheet.append(["No date", None, "Sampleford"])
    sheet.append(["Too wide", date(2027, 3, 5), "Here", "stray"])
    path = tmp_path / "events.xlsx"
    book.save(path)
    async with db.session() as session:
        report = await import_file(session, "events", path)
    assert report.created == 1 and report.encoding is None
    assert report.errors == (
        RowError("row 4", "missing starts date"),
        RowError("row 5", "has a value in column D, which has no name in the header row"),
    )
    async with db.read() as session:
        event = await session.scalar(select(Event).where(Event.title == "Spreadsheet gathering"))
    assert event is not None and event.starts_on == date(2027, 3, 4)
    assert event.source is not None and "row 2" in event.source
