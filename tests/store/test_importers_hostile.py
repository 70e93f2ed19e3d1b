"""Files made to hurt the importer, or that hurt it by accident: thousands of unclosed quotes,
workbooks that claim a huge sheet or unpack to far more than they weigh."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from ccin_bridge.store.db import Database
from ccin_bridge.store.importers import RowError, import_file
from ccin_bridge.store.models import Supplier


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
