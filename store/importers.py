"""Import case studies, funded projects, DPS suppliers and events from CSV, Excel (.xlsx), JSON
or iCalendar.

Imports are idempotent upserts on each record's identity: case studies and projects by url
(projects also by their unique title, so a seeded project is updated rather than duplicated),
suppliers by name, events by title and start date. Only the columns a file has are written, so
a file without `region` leaves regions alone; an empty cell clears the value. A bad row is
reported with where it is and why and never stops the others; only a file that cannot be read
at all raises `ImportFileError`. Each record's `source` names the file and line it came from,
as seeded records name their seed document.

A CSV file is read as UTF-8 (with or without a byte-order mark) or, failing that, as
Windows-1252, which Excel's "CSV (Comma delimited)" writes; the report says which. An
unclosed quote is reported on the line it opens, and the lines after it are read on their own.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import json
import re
import unicodedata
import zipfile
from calendar import isleap
from collections.abc import (
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, asynccontextmanager, closing, suppress
from dataclasses import dataclass, field
from datetime import MAXYEAR, UTC, date, datetime, time
from itertools import islice
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store import search_index
from ccin_bridge.store.importers_ics import CalendarError, IcsEvent, IcsProblem, read_calendar
from ccin_bridge.store.models import Base, CaseStudy, Event, Project, Supplier
from ccin_bridge.store.text import normalise_url

Kind = Literal["case-studies", "projects", "suppliers", "events"]
KINDS: tuple[Kind, ...] = get_args(Kind)
LONDON = ZoneInfo("Europe/London")
BATCH = 500
COMMIT_ROWS = 5_000  # rows `import_in_batches` reads, writes and indexes per transaction
PROJECT_KINDS = ("policy_lab", "policy_prototype", "report", "other")
EVENT_STATUSES = ("planned", "held", "superseded", "cancelled")
MAX_COUNT = 10_000  # an RRULE COUNT is expanded once to find its last date
# A workbook is a zip: what it unpacks to is capped (a few KB can claim gigabytes), and only
# the header's columns, a few more for stray values, and Excel's own rows are read.
XLSX_MAX_UNPACKED = 100 * 1024 * 1024
XLSX_MAX_COLUMNS = 256
XLSX_MAX_ROWS = 1_048_576
XLSX_STRAY_COLUMNS = 20  # columns right of the header read to report values without a name
# How far ahead of its start a rule's dates are looked for: without a bound, a rule that
# never occurs (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31) is walked day by day to the year 9999.
FIRST_DATE_YEARS = 10  # a rule with no date this soon is refused
COUNT_YEARS = 30  # a COUNT must be reached this soon (a daily MAX_COUNT takes 27.4 years)
UTF8, WINDOWS_1252 = "UTF-8", "Windows-1252"  # a CSV file's text, as the report names it
_CODECS = {UTF8: "utf-8-sig", WINDOWS_1252: "cp1252"}  # utf-8-sig: a BOM or none

Progress = Callable[[int, int], None]
Units = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Convert = Callable[[str, object], Any]


class ImportFileError(Exception):
    """The file cannot be imported at all; the message says why, for the person importing it."""


@dataclass(frozen=True)
class RowError:
    where: str  # "line 7" (CSV and iCalendar; the header is line 1) or "index 3" (JSON)
    reason: str


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    unchanged: int  # same content; only the record's `source` line is refreshed
    errors: tuple[RowError, ...] = ()
    ignored_columns: tuple[str, ...] = ()  # columns this kind does not store (typos, too)
    encoding: str | None = None  # how a CSV file's text was read: UTF8 or WINDOWS_1252
    warnings: tuple[RowError, ...] = ()  # rows imported with a value left out, and why

    def summary(self) -> str:
        line = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        if self.errors:
            rows = "1 row" if len(self.errors) == 1 else f"{len(self.errors)} rows"
            line += f"; {rows} skipped because of errors"
        if self.warnings:
            count = len(self.warnings)
            rows = "1 row" if count == 1 else f"{count} rows"
            line += f"; {rows} imported with {'a warning' if count == 1 else 'warnings'}"
        if self.ignored_columns:
            line += f"; ignored columns: {', '.join(self.ignored_columns)}"
        if self.encoding == WINDOWS_1252:
            line += (
                ". Read as Windows-1252 text (Excel's “CSV (Comma delimited)”), as it is not"
                " UTF-8; saving it as “CSV UTF-8” keeps every character"
            )
        elif self.encoding == UTF8:
            line += ". Read as UTF-8 text"
        return line + "."


class _Bad(Exception):
    """A row cannot be imported; the message is the reason the report gives."""


@dataclass(frozen=True)
class _Raw:
    """One row as read: `order` sorts the report, `ref` goes into `source`."""

    order: int
    where: str
    ref: str
    data: Mapping[str, object]


@dataclass(frozen=True)
class _Record:
    order: int
    where: str
    source: str
    values: dict[str, Any]


@dataclass
class _Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, RowError]] = field(default_factory=list)
    encoding: str | None = None
    warnings: list[tuple[int, RowError]] = field(default_factory=list)
    expected: int | None = None  # rows a streamed file says it has (a sheet's dimensions)

    def fail(self, order: int, where: str, reason: str) -> None:
        self.errors.append((order, RowError(where, reason)))

    def warn(self, order: int, where: str, reason: str) -> None:
        self.warnings.append((order, RowError(where, reason)))


# --- values ----------------------------------------------------------------------------------

# PostgreSQL refuses NUL; the other C0 controls are invisible debris from exports.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_ASCII_SPACE = re.compile(r"[ \t\r\n\f\v]+")
_YEAR = re.compile(r"(?:1[89]|2[01])\d\d(?:\s*[/–-]\s*(?:\d\d|\d{4}))?")
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")


def _kind_of(value: object) -> str:
    names = {dict: "an object", list: "a list", bool: "true/false", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _text(name: str, value: object, *, multiline: bool = False) -> str:
    """NFC text with invisible control characters dropped; single lines have spaces collapsed."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Bad(f"{name} must be text, not {_kind_of(value)}")
    text = value if isinstance(value, str) else str(value)
    if _SURROGATE.search(text):
        raise _Bad(f"{name} contains invalid Unicode (an unpaired surrogate)")
    text = unicodedata.normalize("NFC", _CONTROL.sub("", text))
    if not multiline:
        return _ASCII_SPACE.sub(" ", text).strip()
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(part.rstrip() for part in lines).strip()


def _line(name: str, value: object) -> str | None:
    return _text(name, value) or None


def _paragraphs(name: str, value: object) -> str:
    return _text(name, value, multiline=True)


def _optional_paragraphs(name: str, value: object) -> str | None:
    return _text(name, value, multiline=True) or None


def _items(name: str, value: object) -> list[str]:
    """A JSON array, or `;`-separated text (which may itself hold a JSON array)."""
    if isinstance(value, str) and value.strip().startswith("["):
        with suppress(json.JSONDecodeError):  # not JSON after all: read as `;`-separated text
            value = json.loads(value)
    if isinstance(value, str):
        value = value.split(";")
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(f"{name} must be a list or ;-separated text, not {_kind_of(value)}")
    items: list[str] = []
    for item in value:
        text = _text(name, item)
        if text and text not in items:
            items.append(text)
    return items


def _year(name: str, value: object) -> str | None:
    text = _line(name, value)
    if text is not None and not _YEAR.fullmatch(text):
        raise _Bad(f"{name} {text!r} is not a year (e.g. 2024 or 2024/25)")
    return text


# A host of two or more labels (`example.org`, `bit.ly`, `xn--...`, any script's letters).
_HOST = re.compile(r"(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_][\w-]*[^\W_]", re.IGNORECASE)


def _url(name: str, value: object) -> str | None:
    text = _line(name, value)
    if text is not None and " " in text:
        raise _Bad(f"{name} {text!r} contains spaces or line breaks")
    url = normalise_url(text)  # the seeds use the same, so imports match seeded links
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # e.g. an unclosed [ of an IPv6 address
        parts, host = None, ""
    if (
        parts is None
        or parts.scheme.casefold() not in ("http", "https")
        or not (_HOST.fullmatch(host.rstrip(".")))
    ):
        raise _Bad(f"{name} {text!r} is not a web address (e.g. https://example.org/page)")
    return url


def _flag(name: str, value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = _text(name, value).casefold()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    if not text:
        return None
    raise _Bad(f"{name} {text!r} is not yes or no")


def _project_kind(name: str, value: object) -> str:
    text = (_line(name, value) or "other").casefold().replace(" ", "_").replace("-", "_")
    if text not in PROJECT_KINDS:
        raise _Bad(f"unknown project kind {text!r} (use {', '.join(PROJECT_KINDS)})")
    return text


def _status(name: str, value: object) -> str:
    text = (_line(name, value) or "planned").casefold()
    if text not in EVENT_STATUSES:
        raise _Bad(f"unknown event status {text!r} (use {', '.join(EVENT_STATUSES)})")
    return text


def _required(data: Mapping[str, object], name: str, convert: Convert = _line) -> Any:
    value = convert(name, data.get(name))
    if value is None:
        raise _Bad(f"missing {name}")
    return value


def _present(data: Mapping[str, object], fields: Mapping[str, Convert]) -> dict[str, Any]:
    """The fields the row has (an empty value clears); absent fields are left alone."""
    return {name: convert(name, data[name]) for name, convert in fields.items() if name in data}


# --- dates and recurrence --------------------------------------------------------------------


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _moment(name: str, value: object) -> date:
    """An ISO date, or an ISO date and time (aware when it has an offset)."""
    if isinstance(value, date):  # already parsed, from iCalendar
        return value
    text = _text(name, value)
    try:
        return datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)
    except ValueError:
        reason = f"{name} {text!r} is not a valid date (e.g. 2026-03-31 or 2026-03-31T09:00)"
        raise _Bad(reason) from None


def _wall_clock(moment: date, zone: ZoneInfo) -> tuple[date, time | None]:
    """The network's wall-clock day and time; a time with an offset is converted to `zone`."""
    if not isinstance(moment, datetime):
        return moment, None
    local = moment.astimezone(zone) if moment.tzinfo else moment
    return local.date(), local.time().replace(microsecond=0)


def _instant(moment: datetime, zone: ZoneInfo) -> datetime:
    # Subtracting two datetimes in one zone ignores a clock change between them; UTC does not.
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def _ends(value: object, starts: date, zone: ZoneInfo) -> dict[str, Any]:
    if _blank(value):
        return {"ends_on": None, "duration_minutes": None}
    ends = _moment("ends", value)
    day = _wall_clock(ends, zone)[0]
    minutes = None
    if isinstance(starts, datetime) and isinstance(ends, datetime):
        minutes = int((_instant(ends, zone) - _instant(starts, zone)).total_seconds() // 60)
        if minutes < 0:
            raise _Bad("the event ends before it starts")
    elif day < _wall_clock(starts, zone)[0]:
        raise _Bad("the event ends before it starts")
    return {"ends_on": day, "duration_minutes": minutes or None}


def _recurrence(value: object, start: datetime, all_day: bool, zone: ZoneInfo) -> str | None:
    """A validated RRULE that does not depend on its DTSTART.

    The stored rule is expanded without the event's start (`handlers/dates.py` anchors every
    rule on one fixed date), so the start's weekday or day of month is written into the rule,
    COUNT becomes the UNTIL it implies, and a UTC UNTIL becomes wall-clock time.
    """
    text = _line("rrule", value)
    if text is None:
        return None
    text = re.sub(r"(?i)^rrule:", "", text)
    parts: dict[str, str] = {}
    for item in filter(None, text.upper().split(";")):
        key, equals, setting = (p.strip() for p in item.partition("="))
        if not (key and equals and setting) or key in parts:
            raise _Bad(f"rrule {text!r} is not a valid recurrence rule")
        parts[key] = setting
    frequency = parts.pop("FREQ", None)
    if frequency not in _FREQUENCIES:
        raise _Bad(f"rrule {text!r} must repeat DAILY, WEEKLY, MONTHLY or YEARLY")
    parts = {"FREQ": frequency, **parts}
    if "COUNT" in parts and "UNTIL" in parts:
        raise _Bad(f"rrule {text!r} has both COUNT and UNTIL; use one")
    interval = parts.get("INTERVAL", "1")
    if not interval.isdigit() or int(interval) < 1:  # 0 would repeat the same moment forever
        raise _Bad(f"rrule INTERVAL {interval!r} must be a whole number from 1")
    if "UNTIL" in parts:
        parts["UNTIL"] = _local_until(parts["UNTIL"], zone, all_day)
    _pin_to_start(parts, start)
    if not _occurs_soon(parts, start):
        raise _Bad(f"rrule {text!r} never occurs within {FIRST_DATE_YEARS} years of the start")
    if "COUNT" in parts:
        parts = _count_as_until(parts, start, all_day)
    return ";".join(f"{key}={setting}" for key, setting in parts.items())


def _years_after(start: datetime, years: int) -> datetime:
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


def _probe_shift(year: int, years: int) -> int:
    """Years to add to `year` for a stretch of `years` years with the same calendar (each
    date on the same weekday, the same leap years) that ends shortly before the year 9999.

    dateutil checks UNTIL only against a date the rule produced, so a rule that produces
    none walks on to the year 9999 (seconds for a daily rule); from the shifted start it
    stops there within decades. The calendar repeats every 400 years, so one is found."""
    span = range(years + 2)  # the horizon may reach into the year after

    def same(other: int) -> bool:
        return date(other, 1, 1).weekday() == date(year, 1, 1).weekday() and all(
            isleap(year + i) == isleap(other + i) for i in span
        )

    last = MAXYEAR - years - 1
    return next((other - year for other in range(last, last - 400, -1) if same(other)), 0)


def _occurs_soon(parts: dict[str, str], start: datetime) -> bool:
    """Whether the rule has a date within FIRST_DATE_YEARS years of `start`."""
    without_count = ";".join(f"{k}={v}" for k, v in parts.items() if k != "COUNT")
    try:
        parsed = rrulestr(without_count, dtstart=start)
        if not isinstance(parsed, rrule):
            raise ValueError("more than one rule")
        horizon = _years_after(start, FIRST_DATE_YEARS)
        until = getattr(parsed, "_until", None)
        if isinstance(until, datetime) and until < horizon:
            horizon = until
        shift = _probe_shift(start.year, FIRST_DATE_YEARS)
        if shift <= 0:  # too late in time to shift: the search is short anyway
            return parsed.after(start, inc=True) is not None
        shifted = start.replace(year=start.year + shift)
        probe = parsed.replace(dtstart=shifted, until=horizon.replace(year=horizon.year + shift))
        return probe.after(shifted, inc=True) is not None
    except (ValueError, TypeError, OverflowError) as exc:
        raise _Bad(f"rrule {without_count!r} is not a valid recurrence rule ({exc})") from None


def _local_until(until: str, zone: ZoneInfo, all_day: bool) -> str:
    """UNTIL as wall-clock time; a bare date on a timed event includes that whole day."""
    if len(until) == 8 and until.isdigit():
        return until if all_day else f"{until}T235959"
    if not until.endswith("Z"):
        return until  # floating already; rrulestr checks it below
    try:
        moment = datetime.strptime(until, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise _Bad(f"rrule UNTIL {until!r} is not a valid date and time") from None
    local = moment.astimezone(zone)
    return f"{local:%Y%m%d}" if all_day else f"{local:%Y%m%dT%H%M%S}"


def _pin_to_start(parts: dict[str, str], start: datetime) -> None:
    """Write the day RFC 5545 would take from DTSTART into the rule itself."""
    frequency, given = parts["FREQ"], set(parts)
    if frequency == "WEEKLY" and "BYDAY" not in given:
        parts["BYDAY"] = _WEEKDAYS[start.weekday()]
    elif frequency == "MONTHLY" and not given & {"BYDAY", "BYMONTHDAY", "BYYEARDAY"}:
        parts["BYMONTHDAY"] = str(start.day)
    elif frequency == "YEARLY" and not given & {"BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO"}:
        parts.setdefault("BYMONTH", str(start.month))
        parts["BYMONTHDAY"] = str(start.day)


def _count_as_until(parts: dict[str, str], start: datetime, all_day: bool) -> dict[str, str]:
    count = parts["COUNT"]
    if not count.isdigit() or not 0 < int(count) <= MAX_COUNT:
        raise _Bad(f"rrule COUNT {count!r} must be a number from 1 to {MAX_COUNT}")
    bounded = {key: setting for key, setting in parts.items() if key != "COUNT"}
    rule = ";".join(f"{key}={setting}" for key, setting in parts.items())
    # A rule that occurs soon occurs again within decades, so this walk ends soon past UNTIL.
    until = _years_after(start, COUNT_YEARS)
    without_count = ";".join(f"{key}={setting}" for key, setting in bounded.items())
    try:
        within = rrulestr(without_count, dtstart=start)
        if not isinstance(within, rrule):
            raise ValueError("more than one rule")
        dates = list(islice(within.replace(until=until), int(count)))
    except (ValueError, TypeError, OverflowError) as exc:
        raise _Bad(f"rrule {rule!r} is not a valid recurrence rule ({exc})") from None
    if not dates:
        raise _Bad(f"rrule {rule!r} never occurs within {COUNT_YEARS} years of the start")
    if len(dates) < int(count):
        raise _Bad(
            f"rrule {rule!r} does not reach COUNT={count} within {COUNT_YEARS} years of the"
            " start; give an UNTIL date instead"
        )
    last = dates[-1]
    bounded["UNTIL"] = f"{last:%Y%m%d}" if all_day else f"{last:%Y%m%dT%H%M%S}"
    return bounded


# --- one converter per kind ------------------------------------------------------------------

_CASE_STUDY_FIELDS: dict[str, Convert] = {
    "member": _line,
    "region": _line,
    "year": _year,
    "categories": _items,
    "principles": _items,
    "summary": _paragraphs,
    "body": _paragraphs,
}
_PROJECT_FIELDS: dict[str, Convert] = {
    "kind": _project_kind,
    "partners": _items,
    "year": _year,
    "summary": _paragraphs,
}
_SUPPLIER_FIELDS: dict[str, Convert] = {
    "services": _optional_paragraphs,
    "lots": _items,
    "website": _url,
}
_EVENT_FIELDS: dict[str, Convert] = {
    "uid": _line,
    "location": _line,
    "online": _flag,
    "summary": _paragraphs,
    "status": _status,
}


def _case_study(data: Mapping[str, object], zone: ZoneInfo) -> dict[str, Any]:
    title, url = _required(data, "title"), _required(data, "url", _url)
    return {"title": title, "url": url, **_present(data, _CASE_STUDY_FIELDS)}


def _project(data: Mapping[str, object], zone: ZoneInfo) -> dict[str, Any]:
    title, url = _required(data, "title"), _required(data, "url", _url)
    values = {"title": title, "url": url, **_present(data, _PROJECT_FIELDS)}
    if "lead" in data or "member" in data:
        values["lead"] = _line("lead", data.get("lead")) or _line("member", data.get("member"))
    return values


def _supplier(data: Mapping[str, object], zone: ZoneInfo) -> dict[str, Any]:
    return {"name": _required(data, "name"), **_present(data, _SUPPLIER_FIELDS)}


def _event(data: Mapping[str, object], zone: ZoneInfo) -> dict[str, Any]:
    title = _required(data, "title")
    if _blank(data.get("starts")):
        raise _Bad("missing starts date")
    starts = _moment("starts", data["starts"])
    day, at = _wall_clock(starts, zone)
    values = {"title": title, "starts_on": day, "start_time": at, **_present(data, _EVENT_FIELDS)}
    if "ends" in data:
        values.update(_ends(data["ends"], starts, zone))
    if "rrule" in data:
        start = datetime.combine(day, at or time.min)
        values["rrule"] = _recurrence(data["rrule"], start, at is None, zone)
    for name in ("exdates", "rdates"):
        if name in data:
            values[name] = _day_list(name, data[name], zone)
    if "recurrence_on" in data:
        replaced = data["recurrence_on"]
        values["recurrence_on"] = (
            None if _blank(replaced) else _wall_clock(_moment("recurrence_on", replaced), zone)[0]
        )
    values.update(_event_link(data))
    return values


_WARNING = "\0warning"  # a converter's warning for the row, taken out by `_records`


def _event_link(data: Mapping[str, object]) -> dict[str, Any]:
    """An event's url. One that is not a web address (an intranet page, an IP address) is
    left out with a warning, not the row with it: a feed's event must keep updating."""
    if "url" not in data:
        return {}
    try:
        return {"url": _url("url", data["url"])}
    except _Bad as exc:
        return {"url": None, _WARNING: f"{exc}; the event was imported without its link"}


def _day_list(name: str, value: object, zone: ZoneInfo) -> list[str]:
    """EXDATE or RDATE dates as sorted ISO wall-clock days: a list (from iCalendar or JSON),
    or text with the dates separated by commas or spaces (CSV)."""
    items = value if isinstance(value, list) else re.split(r"[\s,;]+", _text(name, value))
    days = {_wall_clock(_moment(name, item), zone)[0] for item in items if not _blank(item)}
    return sorted(day.isoformat() for day in days)


@dataclass(frozen=True)
class _Spec:
    model: type[Base]
    convert: Callable[[Mapping[str, object], ZoneInfo], dict[str, Any]]
    columns: frozenset[str]  # what a file may name
    required: tuple[str, ...]  # what a CSV header must name
    keys: tuple[tuple[str, ...], ...]  # how an existing record is found, tried in order
    key_labels: tuple[str, ...]
    noun: str
    on_create: Mapping[str, Any] = field(default_factory=dict)
    indexed: bool = True  # feeds the search index
    # Later keys find only what the first cannot name: an event with a calendar UID is never
    # the same as another by title and day (a series and its moved first date share both),
    # though it may take over an event without one (one seeded before the feed).
    fallback_keys: bool = False

    def keys_of(self, record: _Record) -> list[tuple[object, ...] | None]:
        keys = [_key(record, key) for key in self.keys]
        if self.fallback_keys and keys[0] is not None:
            return [keys[0], *(None for _ in keys[1:])]
        return keys


SPECS: dict[Kind, _Spec] = {
    "case-studies": _Spec(
        model=CaseStudy,
        convert=_case_study,
        columns=frozenset({"title", "url", *_CASE_STUDY_FIELDS}),
        required=("title", "url"),
        keys=(("url",),),
        key_labels=("url",),
        noun="case study",
    ),
    "projects": _Spec(
        model=Project,
        convert=_project,
        columns=frozenset({"title", "url", "lead", "member", *_PROJECT_FIELDS}),
        required=("title", "url"),
        keys=(("url",), ("title",)),  # titles are unique too: a seeded link may differ
        key_labels=("url", "title"),
        noun="project",
        on_create={"kind": "other"},
    ),
    "suppliers": _Spec(
        model=Supplier,
        convert=_supplier,
        columns=frozenset({"name", *_SUPPLIER_FIELDS}),
        required=("name",),
        keys=(("name",),),
        key_labels=("name",),
        noun="supplier",
    ),
    "events": _Spec(
        model=Event,
        convert=_event,
        columns=frozenset(
            {"title", "starts", "ends", "rrule", "exdates", "rdates", "recurrence_on"}
            | set(_EVENT_FIELDS)
        ),
        required=("title", "starts"),
        # A calendar's UID (and, for one changed date of a series, that date) first: a moved
        # or renamed event is the same event.
        keys=(("uid", "recurrence_on"), ("title", "starts_on")),
        key_labels=("UID", "title and start date"),
        noun="event",
        indexed=False,
        fallback_keys=True,
    ),
}


# --- reading files ---------------------------------------------------------------------------


def _column(name: str) -> str:
    """`Title`, ` title `, `Start-Date` -> `title`, `title`, `start_date`."""
    readable = _SURROGATE.sub("\ufffd", name)  # it may be shown in a report
    folded = unicodedata.normalize("NFC", readable).strip().casefold()
    return re.sub(r"[\s-]+", "_", folded)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImportFileError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, data[: exc.start].count(b"\n") + 1) from None


def _not_utf8(path: Path, line: int) -> ImportFileError:
    return ImportFileError(
        f"{path.name}: line {line} is not UTF-8 text; save the file as UTF-8 "
        "(in Excel: 'CSV UTF-8')"
    )


def _header_columns(path: Path, header: Sequence[object], spec: _Spec, where: str) -> list[str]:
    columns = [_column("" if cell is None else str(cell)) for cell in header]
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    if repeated:
        raise ImportFileError(f"{path.name}: the header names {', '.join(repeated)} twice")
    missing = [name for name in spec.required if name not in columns]
    if missing:
        hint = ""
        if len(header) == 1 and ";" in str(header[0]):
            hint = "; the file looks semicolon-separated, save it as comma-separated CSV"
        raise ImportFileError(
            f"{path.name}: the header row ({where}) has no {' or '.join(missing)} column{hint}"
        )
    return columns


def _csv_header(path: Path, reader: Any, spec: _Spec) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(f"{path.name}: the file is empty") from None
    return _header_columns(path, header, spec, "line 1")


class _Lines:
    """The lines a CSV reader takes, kept since the last `take()`: the lines of one record,
    as the reader never reads past the record it returns."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self._ahead: list[str] = []
        self.kept: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._ahead.pop() if self._ahead else next(self._lines)
        self.kept.append(line)
        return line

    def at_end(self) -> bool:
        """No line is left (one is read ahead to tell, and given to the reader next)."""
        if not self._ahead:
            try:
                self._ahead.append(next(self._lines))
            except StopIteration:
                return True
        return False

    def take(self) -> list[str]:
        kept, self.kept = self.kept, []
        return kept


def _unclosed(lines: list[str]) -> bool:
    """Whether a record's lines end inside a quoted cell (the reader took to the end of the
    file looking for its closing quote)."""
    try:
        list(csv.reader(lines, strict=True))
    except csv.Error as exc:
        return "end of data" in str(exc)
    return False


def _csv_rows(path: Path, lines: Iterable[str], spec: _Spec, tally: _Tally) -> Iterator[_Raw]:
    source = _Lines(lines)
    reader = csv.reader(source)
    columns = _csv_header(path, reader, spec)
    source.take()
    yield from _csv_records(source, columns, first=reader.line_num + 1, tally=tally)


def _open_at_end(line: str, *, inside: bool) -> bool:
    """Whether `line`, begun at the start of a record (or inside a quoted cell), ends inside
    a quoted cell: the line break is then part of the cell the reader returns."""
    text = ('"' if inside else "") + line
    if not text.endswith(("\n", "\r")):
        text += "\n"  # the file's last line: still inside at its end means never closed
    try:
        cells = next(csv.reader([text]), [])
    except csv.Error:  # a NUL byte or an oversized cell: the reader reports it
        return False
    return bool(cells) and cells[-1].endswith(("\n", "\r"))


def _left_open(lines: Sequence[str]) -> list[bool]:
    """For each line, whether a record begun on it would still be inside a quoted cell after
    the last line: one pass from the end, so a run of unclosed quotes is read in linear time
    (rereading the rest of the file after each would be quadratic)."""
    from_start, from_inside = False, True  # just after the last line
    opens = [False] * len(lines)
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        after_start = from_inside if _open_at_end(line, inside=False) else from_start
        after_inside = from_inside if _open_at_end(line, inside=True) else from_start
        opens[index], from_start, from_inside = after_start, after_start, after_inside
    return opens


def _csv_records(
    source: _Lines, columns: list[str], *, first: int, tally: _Tally
) -> Iterator[_Raw]:
    """The records from line `first` on. A quote never closed would take the rest of the file
    as one cell: that line is reported and the lines after it are read afresh, in a loop."""
    unclosed = (
        'a quote (") opens a cell here and is never closed; this line was skipped'
        " and the lines after it were read on their own"
    )
    reader = csv.reader(source)
    start = first
    opens: list[bool] = []  # once a quote is left open: which of the lines after would be too
    opens_from = 0  # the line `opens` starts at
    while True:
        if 0 <= start - opens_from < len(opens) and opens[start - opens_from]:
            tally.fail(start, f"line {start}", unclosed)
            if next(source, None) is None:
                break
            source.take()
            start += 1
            continue
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a NUL byte, a cell past the size limit
            tally.fail(start, f"line {start}", f"not valid CSV ({exc}); the rest was not read")
            break
        taken = source.take()
        if source.at_end() and _unclosed(taken):  # only the last record can be
            tally.fail(start, f"line {start}", unclosed)
            opens, opens_from = _left_open(taken), start
            source = _Lines(taken[1:])
            reader = csv.reader(source)
            start += 1
            continue
        if any(cell.strip() for cell in cells):
            if any(cell.strip() for cell in cells[len(columns) :]):
                reason = f"has {len(cells)} cells but the header has {len(columns)} columns"
                tally.fail(start, f"line {start}", reason)
            else:
                data = {c: v for c, v in zip(columns, cells, strict=False) if c}
                yield _Raw(start, f"line {start}", str(start), data)
        start += len(taken)


def _csv_file(path: Path, spec: _Spec, tally: _Tally) -> Generator[_Raw, None, None]:
    """The rows of a CSV file as they are read: memory stays flat however long it is."""
    tally.encoding = _encoding(path)
    try:
        stream = path.open(encoding=_CODECS[tally.encoding], newline="")
    except OSError:
        _read_bytes(path)  # says why, as for the other formats
        raise
    with stream:
        yield from _csv_rows(path, stream, spec, tally)


def _encoding(path: Path) -> str:
    """UTF-8 if every line is; else Windows-1252 (Excel's "CSV (Comma delimited)"), if the
    file is that; read before anything is written, as a file read whole would be."""
    line = _undecodable_line(path, "utf-8")
    if line is None:
        return UTF8
    if _undecodable_line(path, "cp1252") is None:
        return WINDOWS_1252
    raise _not_utf8(path, line)


def _undecodable_line(path: Path, codec: str) -> int | None:
    """The first line that is not `codec` text, or None if it all is (read in chunks)."""
    decoder = codecs.getincrementaldecoder(codec)()
    lines = 0
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    return lines + chunk[: exc.start].count(b"\n") + 1
                lines += chunk.count(b"\n")
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:  # the file ends inside a character
        return lines + 1
    except OSError:
        _read_bytes(path)  # says why
        raise
    return None


def _unpacked_size(path: Path) -> int:
    """What a workbook's zip says it unpacks to. Python's zipfile never gives more than each
    member's stated size (it stops there and checks the CRC), so the sum bounds it."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0  # not a zip: load_workbook says so


def _xlsx_rows(path: Path, spec: _Spec, tally: _Tally) -> Generator[_Raw, None, None]:
    """The rows of a workbook's first sheet, read as they stream (its row numbers are where)."""
    from openpyxl import load_workbook  # only for a workbook
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.exceptions import InvalidFileException

    _read_bytes(path)  # a missing or unreadable file says why, as for the other formats
    unpacked = _unpacked_size(path)
    if unpacked > XLSX_MAX_UNPACKED:
        raise ImportFileError(
            f"{path.name}: the workbook unpacks to {unpacked // 1_048_576:,} MB, more than the "
            f"{XLSX_MAX_UNPACKED // 1_048_576} MB that can be imported; save it as CSV UTF-8"
        )
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise ImportFileError(
            f"{path.name}: not an Excel workbook that can be read (.xlsx; a password-protected "
            "or older .xls file can be saved again as .xlsx or CSV UTF-8)"
        ) from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        header = next(sheet.iter_rows(max_row=1, values_only=True), None) if sheet else None
        named = [i for i, value in enumerate(header or ()) if not _blank(value)]
        if header is None or not named:
            raise ImportFileError(f"{path.name}: the first sheet is empty")
        width = named[-1] + 1  # the header's own width, however wide the sheet claims to be
        if width > XLSX_MAX_COLUMNS:
            raise ImportFileError(
                f"{path.name}: the header row reaches column {get_column_letter(width)}; a "
                f"sheet to import can have at most {XLSX_MAX_COLUMNS} columns"
            )
        columns = _header_columns(path, header[:width], spec, "row 1")
        if isinstance(sheet.max_row, int):  # type: ignore[union-attr]
            tally.expected = min(sheet.max_row, XLSX_MAX_ROWS) - 1  # type: ignore[union-attr]
        rows = sheet.iter_rows(  # type: ignore[union-attr]
            min_row=2,
            max_row=XLSX_MAX_ROWS,
            max_col=width + XLSX_STRAY_COLUMNS,
            values_only=True,
        )
        for number, cells in enumerate(rows, start=2):
            if cells.count(None) == len(cells):  # the common blank row, cheaply
                continue
            values = [_cell(value) for value in cells]
            if not any((isinstance(v, str) and v.strip()) or not _blank(v) for v in values):
                continue
            stray = [i for i, v in enumerate(values) if not _blank(v) and not _named(columns, i)]
            if stray:
                letters = ", ".join(get_column_letter(i + 1) for i in stray)
                reason = f"has a value in column {letters}, which has no name in the header row"
                tally.fail(number, f"row {number}", reason)
                continue
            data = {c: v for c, v in zip(columns, values, strict=False) if c}
            yield _Raw(number, f"row {number}", f"row {number}", data)
    finally:
        book.close()


def _named(columns: Sequence[str], index: int) -> bool:
    return index < len(columns) and bool(columns[index])


def _cell(value: object) -> object:
    """A workbook cell as the row converters take it: whole numbers without `.0` (a year
    typed as 2024 is stored as 2024.0), a date-only timestamp as a date."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, datetime) and value.time() == time(0) and value.tzinfo is None:
        return value.date()
    if isinstance(value, time):
        return value.isoformat()
    return value


def _json_rows(path: Path, text: str, tally: _Tally) -> list[_Raw]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"{path.name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise ImportFileError(f"{path.name}: the JSON is nested too deeply") from None
    if not isinstance(data, list):
        raise ImportFileError(
            f"{path.name}: expected a list of objects ([{{...}}, ...]), found {_kind_of(data)}"
        )
    rows: list[_Raw] = []
    for index, item in enumerate(data):
        if isinstance(item, dict):
            fields = {_column(str(key)): value for key, value in item.items()}
            rows.append(_Raw(index, f"index {index}", f"[{index}]", fields))
        else:
            tally.fail(index, f"index {index}", f"is not an object (found {_kind_of(item)})")
    return rows


async def read_ics(path: Path) -> list[IcsEvent | IcsProblem]:
    """The VEVENTs of an iCalendar file, read and parsed in a thread: a large feed takes
    seconds of CPU, which must not stop the event loop."""

    def read() -> list[IcsEvent | IcsProblem]:
        try:
            return read_calendar(_read_bytes(path))
        except CalendarError as exc:
            raise ImportFileError(f"{path.name}: {exc}") from None

    return await asyncio.to_thread(read)


def _ics_rows(found: Sequence[IcsEvent | IcsProblem], tally: _Tally) -> list[_Raw]:
    rows: list[_Raw] = []
    for item in found:
        if isinstance(item, IcsEvent):
            rows.append(_Raw(item.line, f"line {item.line}", str(item.line), item.fields))
        else:
            tally.fail(item.line, f"line {item.line}", item.reason)
    return rows


def _rows(
    path: Path,
    kind: Kind,
    spec: _Spec,
    tally: _Tally,
    calendar: Sequence[IcsEvent | IcsProblem] | None = None,
) -> Generator[_Raw, None, None]:
    suffix = path.suffix.casefold()
    allowed = (".csv", ".xlsx", ".json", *((".ics",) if kind == "events" else ()))
    if suffix not in allowed:
        raise ImportFileError(
            f"{path.name}: {kind} can be imported from {', '.join(allowed)} files, "
            f"not {suffix or 'a file without an extension'}"
        )
    if suffix == ".csv":
        return _csv_file(path, spec, tally)
    if suffix == ".xlsx":
        return _xlsx_rows(path, spec, tally)
    if suffix == ".ics":
        if calendar is None:
            raise ValueError("an iCalendar file is read by read_ics first")
        found = _ics_rows(calendar, tally)
    else:
        data = _read_bytes(path)  # JSON is parsed whole
        found = _json_rows(path, _decode(path, data), tally)
    return (raw for raw in found)  # a generator, as the CSV one: closed when done


# --- checking and writing --------------------------------------------------------------------


def _limit(model: type[Base], column: str) -> int | None:
    found = model.__table__.columns.get(column)
    length = getattr(found.type, "length", None) if found is not None else None
    return length if isinstance(length, int) else None


def _check_lengths(model: type[Base], values: Mapping[str, Any]) -> None:
    for column, value in values.items():
        limit = _limit(model, column)
        if isinstance(value, str) and limit is not None and len(value) > limit:
            raise _Bad(f"{column} is too long ({len(value)} characters; at most {limit})")


def _source(file_name: str, ref: str, limit: int) -> str:
    """`import:<file>:<line>`, shortening the file name (never the line) to fit the column."""
    name, suffix = unicodedata.normalize("NFC", file_name), f":{ref}"
    room = limit - len("import:") - len(suffix)
    if len(name) > room:
        name = name[: max(room - 1, 0)] + "…"
    return f"import:{name}{suffix}"[:limit]


def _records(
    raws: Sequence[_Raw],
    spec: _Spec,
    name: str,
    zone: ZoneInfo,
    tally: _Tally,
    seen: list[dict[tuple[object, ...], str]],
) -> list[_Record]:
    """Convert and check each row; a row that fails is reported and left out."""
    records: list[_Record] = []
    limit = _limit(spec.model, "source") or 80
    for raw in raws:
        try:
            values = spec.convert(raw.data, zone)
            warning = values.pop(_WARNING, None)
            _check_lengths(spec.model, values)
        except _Bad as exc:
            tally.fail(raw.order, raw.where, str(exc))
            continue
        if warning is not None:
            tally.warn(raw.order, raw.where, warning)
        records.append(_Record(raw.order, raw.where, _source(name, raw.ref, limit), values))
    return _unique_in_file(records, spec, tally, seen)


def _unique_in_file(
    records: list[_Record],
    spec: _Spec,
    tally: _Tally,
    seen: list[dict[tuple[object, ...], str]],
) -> list[_Record]:
    """The first row with a given key wins; later ones are reported, not silently merged.
    `seen` holds the keys of the rows before (one mapping per key), across batches."""
    kept: list[_Record] = []
    for record in records:
        keys = spec.keys_of(record)
        clash = next((i for i, key in enumerate(keys) if key and key in seen[i]), None)
        if clash is not None:
            first = seen[clash][keys[clash] or ()]
            reason = f"duplicate {spec.key_labels[clash]} in the file (first on {first})"
            tally.fail(record.order, record.where, reason)
            continue
        for i, key in enumerate(keys):
            if key:
                seen[i][key] = record.where
        kept.append(record)
    return kept


def _key(record: _Record, columns: tuple[str, ...]) -> tuple[object, ...] | None:
    """The record's values for one key; None when it has no first one (an event without a
    calendar UID is found by its title and start date only)."""
    if record.values.get(columns[0]) is None:
        return None
    return tuple(record.values.get(c) for c in columns)


async def _existing(
    session: AsyncSession, model: type[Base], key: tuple[str, ...], batch: Sequence[_Record]
) -> dict[tuple[object, ...], list[Base]]:
    """Existing rows for the batch's keys, in one query per key."""
    column = getattr(model, key[0])
    wanted = {record.values[key[0]] for record in batch if record.values.get(key[0]) is not None}
    if not wanted:
        return {}
    found: dict[tuple[object, ...], list[Base]] = {}
    for row in await session.scalars(select(model).where(column.in_(wanted))):
        found.setdefault(tuple(getattr(row, c) for c in key), []).append(row)
    return found


async def _write_batch(
    session: AsyncSession,
    spec: _Spec,
    batch: Sequence[_Record],
    tally: _Tally,
    touched: dict[object, str],
) -> None:
    lookups = [await _existing(session, spec.model, key, batch) for key in spec.keys]
    for record in batch:
        matches: dict[object, Base] = {}
        for i, (key, lookup) in enumerate(zip(spec.keys_of(record), lookups, strict=True)):
            if spec.fallback_keys and i == 0 and key is not None:
                matches.update((_identity(f), f) for f in lookup.get(key, []))
                break  # found by its first key, or new: never by a later one
            for found in lookup.get(key or (), []):
                if i and spec.fallback_keys and getattr(found, spec.keys[0][0]) is not None:
                    continue  # a later key takes over only a row the first cannot name
                matches[_identity(found)] = found
        if len(matches) > 1:
            labels = " or ".join(spec.key_labels)
            reason = f"its {labels} matches more than one existing {spec.noun}"
            tally.fail(record.order, record.where, reason)
            continue
        row = next(iter(matches.values()), None)
        if row is None:
            session.add(spec.model(**{**spec.on_create, **record.values, "source": record.source}))
            tally.created += 1
        elif _identity(row) in touched:  # e.g. a project found by title, then by its old url
            reason = f"updates the same {spec.noun} as {touched[_identity(row)]}"
            tally.fail(record.order, record.where, reason)
        else:
            touched[_identity(row)] = record.where
            _update(row, record, tally)


def _identity(row: Base) -> object:
    # The primary key, not id(): rows from earlier batches are freed and their ids reused.
    return inspect(row).identity


def _update(row: Base, record: _Record, tally: _Tally) -> None:
    changed = any(getattr(row, name) != value for name, value in record.values.items())
    for name, value in {**record.values, "source": record.source}.items():
        setattr(row, name, value)
    if changed:
        tally.updated += 1
    else:
        tally.unchanged += 1


async def import_file(
    session: AsyncSession,
    kind: Kind,
    path: Path,
    *,
    progress: Progress | None = None,
    zone: ZoneInfo = LONDON,
    calendar: Sequence[IcsEvent | IcsProblem] | None = None,
) -> ImportReport:
    """Upsert every good row of `path` as `kind`; report the rest by line (or JSON index).

    `calendar` is the iCalendar file at `path` as `read_ics` read it already, if it was.
    Runs in the caller's unit of work, so a database failure leaves nothing half-imported.
    `progress(done, total)` is called before the first batch and after each one. Dates with
    an offset become wall-clock dates and times in `zone`.
    """

    @asynccontextmanager
    async def same() -> AsyncIterator[AsyncSession]:
        yield session

    return await _import(
        same, kind, path, progress=progress, zone=zone, rows=None, calendar=calendar
    )


async def import_in_batches(
    units: Units,
    kind: Kind,
    path: Path,
    *,
    progress: Progress | None = None,
    zone: ZoneInfo = LONDON,
    rows: int = COMMIT_ROWS,
) -> ImportReport:
    """`import_file` for large files: `rows` rows at a time are read (a CSV or Excel file
    is never held whole), written and indexed in a unit of work of their own from `units`, and
    committed. The report is the same; a failure keeps the batches committed before it."""
    return await _import(units, kind, path, progress=progress, zone=zone, rows=rows)


async def _import(
    units: Units,
    kind: Kind,
    path: Path,
    *,
    progress: Progress | None,
    zone: ZoneInfo,
    rows: int | None,
    calendar: Sequence[IcsEvent | IcsProblem] | None = None,
) -> ImportReport:
    if kind not in SPECS:
        raise ValueError(f"unknown import kind {kind!r}; expected one of {', '.join(KINDS)}")
    if calendar is None and kind == "events" and path.suffix.casefold() == ".ics":
        calendar = await read_ics(path)
    spec, tally = SPECS[kind], _Tally()
    seen: list[dict[tuple[object, ...], str]] = [{} for _ in spec.keys]
    touched: dict[object, str] = {}
    named: set[str] = set()
    with closing(_rows(path, kind, spec, tally, calendar)) as read:
        raws: Iterator[_Raw] = read
        total: int | None = None
        if rows is None:  # one unit of work: read it all, so the bar knows the total
            batches: Iterator[list[_Raw]] = iter([list(raws)])
        else:
            suffix = path.suffix.casefold()
            if suffix in (".json", ".ics"):  # read whole already: count them
                whole = list(raws)
                raws, total = iter(whole), len(whole)
            elif suffix == ".csv" and progress is not None:
                total = _count_rows(path)
            # A workbook streams as CSV does; its size is known once it is opened (below).
            batches = iter(lambda: list(islice(raws, rows)), [])
        if progress is not None and total is not None:
            progress(0, total)
        done = 0
        for batch in batches:
            named.update(c for raw in batch for c in raw.data if c)
            records = _records(batch, spec, path.name, zone, tally, seen)
            if progress is not None and total is None:
                # One unit of work: the good rows; a workbook: the rows its sheet says it has.
                total = len(records) if rows is None else tally.expected
                if total is not None:
                    progress(0, total)
            async with units() as session:
                for start in range(0, len(records), BATCH):
                    await _write_batch(
                        session, spec, records[start : start + BATCH], tally, touched
                    )
                    await session.flush()
                    if progress is not None and total is not None and rows is None:
                        progress(min(start + BATCH, total), total)
                if spec.indexed:  # only the rows written (see search_index)
                    await search_index.sync(session)
            done += len(batch)
            if progress is not None and total is not None and rows is not None:
                progress(min(done, total), total)
        if progress is not None and total is not None and rows is not None and done < total:
            progress(total, total)  # the rows skipped while reading, once it is all read
    ignored = sorted(named - spec.columns)
    errors = tuple(error for _, error in sorted(tally.errors, key=lambda item: item[0]))
    warnings = tuple(warning for _, warning in sorted(tally.warnings, key=lambda item: item[0]))
    return ImportReport(
        tally.created,
        tally.updated,
        tally.unchanged,
        errors,
        tuple(ignored),
        tally.encoding,
        warnings,
    )


def _count_rows(path: Path) -> int:
    """The data rows of a CSV file, for a progress bar (read once more, as it streams)."""
    codec = _CODECS[_encoding(path)]
    with suppress(csv.Error), path.open(encoding=codec, newline="") as stream:
        return sum(1 for cells in csv.reader(stream) if any(c.strip() for c in cells)) - 1
    return 0
