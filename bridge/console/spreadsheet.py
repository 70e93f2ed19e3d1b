"""CSV downloads as spreadsheets open them: UTF-8 with a BOM (Excel), and no cell that a
spreadsheet would run as a formula (a name someone chose beginning with `=`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from aiohttp import web


def cell(value: str) -> str:
    """The value, kept as text by spreadsheets if it starts like a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def download(rows: Iterable[Sequence[str]], filename: str) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return web.Response(
        body=out.getvalue().encode("utf-8-sig"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
