"""CSV downloads as spreadsheets open them: UTF-8 with a BOM (Excel), and no cell that a
spreadsheet would run as a formula (a name someone chose beginning with `=`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from aiohttp import web

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(value: str) -> str:
    """The value, kept as text by spreadsheets if it starts like a formula (spreadsheets
    skip leading spaces and line breaks before one, so `" =..."` and `"\\n=..."` do too)."""
    starts = value[:1] in _FORMULA or value.lstrip()[:1] in _FORMULA
    return "'" + value if starts else value


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
