"""The VEVENTs of one iCalendar (RFC 5545) file, read with `icalendar`.

What an event listing needs is read: UID, SUMMARY, DTSTART, DTEND or DURATION, LOCATION, URL,
DESCRIPTION, RRULE, EXDATE, RDATE, STATUS, and RECURRENCE-ID (one date of a series changed,
moved or cancelled). Time zones are the file's own VTIMEZONEs (Outlook names them
"(UTC+00:00) Dublin, Edinburgh, Lisbon, London"), IANA names, Windows names and vendor-prefixed
IANA names. Times come back as given (aware, or naive for floating times); turning them into
wall-clock time is the caller's job.

Only the file's outline is read here: where each VEVENT begins (for line numbers in the
report) and whether it is closed. Lines are unfolded as bytes first, because some producers
fold in the middle of a multi-byte character.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import icalendar

_PHYSICAL_LINE = re.compile(rb"\r\n|\n|\r")
MAX_EVENTS = 20_000  # VEVENTs per file: more is refused before the slow parse


class CalendarError(ValueError):
    """The file is not an iCalendar file that can be read at all."""


@dataclass(frozen=True)
class IcsEvent:
    """One VEVENT: `line` is where its BEGIN:VEVENT is; `fields` uses the importer's names.

    A series' `exdates` include the dates its overrides (RECURRENCE-ID) replace; an override
    has the series' `uid` and the date it replaces as `recurrence_on`."""

    line: int
    fields: dict[str, object]


@dataclass(frozen=True)
class IcsProblem:
    line: int
    reason: str


def read_calendar(data: bytes) -> list[IcsEvent | IcsProblem]:
    """Every top-level VEVENT in the file, or why it cannot be used, in file order."""
    lines = list(_logical_lines(data))
    if not lines or lines[0][1].strip().upper() != "BEGIN:VCALENDAR":
        raise CalendarError("not an iCalendar file (it does not start with BEGIN:VCALENDAR)")
    kept, starts, unclosed = _closed_outline(lines)
    if len(starts) > MAX_EVENTS:
        raise CalendarError(
            f"it has {len(starts):,} events; at most {MAX_EVENTS:,} can be read from one file"
        )
    text = "\r\n".join(kept) + "\r\n"
    try:
        with warnings.catch_warnings():  # a guessed vendor-prefixed zone is what we want
            warnings.simplefilter("ignore")
            calendar = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise CalendarError(f"not a readable iCalendar file ({exc})") from None
    vevents = [c for c in calendar.subcomponents if c.name == "VEVENT"]
    found: list[IcsEvent | IcsProblem] = [
        _event(line, vevent) for line, vevent in zip(starts, vevents, strict=False)
    ]
    _move_overridden_dates(found)
    if unclosed is not None:
        found.append(IcsProblem(unclosed, "the event is not closed (no END:VEVENT)"))
    return found


def _logical_lines(data: bytes) -> Iterator[tuple[int, str]]:
    """(first physical line number, text) of each unfolded, non-blank content line."""
    pending: tuple[int, bytearray] | None = None
    physical = _PHYSICAL_LINE.split(data.removeprefix(b"\xef\xbb\xbf"))
    for number, raw in enumerate(physical, start=1):
        if raw[:1] in (b" ", b"\t") and pending is not None:
            pending[1].extend(raw[1:])
            continue
        if pending is not None:
            yield _decoded(*pending)
        pending = (number, bytearray(raw)) if raw.strip() else None
    if pending is not None:
        yield _decoded(*pending)


def _decoded(number: int, raw: bytearray) -> tuple[int, str]:
    try:
        return number, raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CalendarError(f"line {number} is not UTF-8 text") from None


def _closed_outline(lines: list[tuple[int, str]]) -> tuple[list[str], list[int], int | None]:
    """The file's lines with any unclosed component cut off and the calendar closed; the
    line of each top-level BEGIN:VEVENT kept; the line of an unclosed VEVENT, if any."""
    kept: list[str] = []
    starts: list[int] = []
    stack: list[str] = []
    event_at: tuple[int, int] | None = None  # (line, index in kept)
    for number, text in lines:
        marker, _, component = text.partition(":")
        marker, component = marker.strip().upper(), component.strip().upper()
        if marker == "BEGIN":
            stack.append(component)
            if stack == ["VCALENDAR", "VEVENT"]:
                event_at = (number, len(kept))
        elif marker == "END" and component in stack:
            if component == "VCALENDAR":
                break
            # tolerate a missing END inside, e.g. an unclosed VALARM: close it here
            while stack[-1] != component:
                kept.append(f"END:{stack.pop()}")
            stack.pop()
            if component == "VEVENT" and event_at is not None:
                starts.append(event_at[0])
                event_at = None
        kept.append(text)
    unclosed = None
    if event_at is not None:
        unclosed = event_at[0]
        del kept[event_at[1] :]
    return [*kept, "END:VCALENDAR"], starts, unclosed


def _event(line: int, vevent: icalendar.Component) -> IcsEvent | IcsProblem:
    broken = next(iter(vevent.errors), None)
    if broken is not None:
        name, _ = broken
        if name is None:
            return IcsProblem(line, "has a line that cannot be read")
        value = _text(vevent.get(name))
        return IcsProblem(line, f"{name} {_short(value)!r} cannot be read")
    if "DTSTART" not in vevent:
        return IcsProblem(line, "missing start date (no DTSTART)")
    try:
        starts = _moment(vevent, "DTSTART")
        ends = _ends(vevent, starts)
        fields: dict[str, object] = {"starts": starts}
        if ends is not None:
            fields["ends"] = ends
        for name, key in (
            ("SUMMARY", "title"),
            ("LOCATION", "location"),
            ("DESCRIPTION", "summary"),
        ):
            if name in vevent:
                fields[key] = str(vevent[name])
        if "URL" in vevent:
            fields["url"] = str(vevent["URL"]).strip()
        if "RRULE" in vevent:
            fields["rrule"] = _text(vevent["RRULE"])
        # Always given, so a date dropped from a feed's EXDATE is dropped here too.
        fields["exdates"] = _dates(vevent, "EXDATE")
        fields["rdates"] = _dates(vevent, "RDATE")
        fields["uid"] = str(vevent["UID"]).strip() if "UID" in vevent else None
        fields["recurrence_on"] = (
            _moment(vevent, "RECURRENCE-ID") if "RECURRENCE-ID" in vevent else None
        )
        if str(vevent.get("STATUS", "")).strip().upper() == "CANCELLED":
            fields["status"] = "cancelled"
    except ValueError as exc:
        return IcsProblem(line, str(exc))
    return IcsEvent(line, fields)


def _short(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _text(value: Any) -> str:
    raw = value.to_ical() if hasattr(value, "to_ical") else value
    return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)


def _check_zone(name: str, moment: date, params: Any) -> date:
    """A time given with a TZID that no VTIMEZONE, IANA or Windows name explains comes back
    naive from `icalendar`: better refused than read as the wrong time."""
    if isinstance(moment, datetime) and moment.tzinfo is None and params.get("TZID"):
        raise ValueError(f"{name} has an unknown time zone {str(params['TZID'])!r}")
    return moment


def _moment(vevent: icalendar.Component, name: str) -> date:
    prop: Any = vevent[name]
    moment = prop.dt
    if not isinstance(moment, date):
        raise ValueError(f"{name} is not a date")
    return _check_zone(name, moment, prop.params)


def _dates(vevent: icalendar.Component, name: str) -> list[date]:
    """Every date of EXDATE or RDATE lines (each may appear more than once, with lists);
    an RDATE period counts by its start."""
    props = vevent.get(name)
    found: list[date] = []
    if props is None:
        return found
    for prop in props if isinstance(props, list) else [props]:
        for item in prop.dts:
            moment = item.dt[0] if isinstance(item.dt, tuple) else item.dt
            if isinstance(moment, date):
                found.append(_check_zone(name, moment, item.params or prop.params))
    return found


def _ends(vevent: icalendar.Component, starts: date) -> date | None:
    """DTEND, or DTSTART + DURATION; an all-day event's end date is exclusive, so step back."""
    if "DTEND" in vevent:
        ends = _moment(vevent, "DTEND")
    elif "DURATION" in vevent:
        duration: Any = vevent["DURATION"]
        ends = starts + duration.dt
    else:
        return None
    if isinstance(ends, datetime) or isinstance(starts, datetime):
        return ends
    return max(starts, ends - timedelta(days=1))


def _move_overridden_dates(found: list[IcsEvent | IcsProblem]) -> None:
    """A series no longer meets on a date one of its overrides replaces (moved or cancelled):
    add that date to its exdates, so the series alone is enough to say when it meets."""
    series = {
        e.fields["uid"]: e
        for e in found
        if isinstance(e, IcsEvent) and e.fields["uid"] and e.fields["recurrence_on"] is None
    }
    for item in found:
        if not isinstance(item, IcsEvent) or item.fields["recurrence_on"] is None:
            continue
        parent = series.get(item.fields["uid"])
        exdates = parent.fields["exdates"] if parent is not None else None
        if isinstance(exdates, list):
            exdates.append(item.fields["recurrence_on"])
