"""A small, careful iCalendar (RFC 5545) reader: the VEVENTs of one calendar file.

Only what an event listing needs is read: SUMMARY, DTSTART, DTEND or DURATION, LOCATION, URL,
DESCRIPTION, RRULE and STATUS. Lines are unfolded as bytes before decoding, because some
producers fold in the middle of a multi-byte character. Times come back as given (aware for
`Z` and TZID, naive for floating times); turning them into wall-clock time is the caller's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_PHYSICAL_LINE = re.compile(rb"\r\n|\n|\r")
_NAME = re.compile(r"[A-Za-z0-9-]+")
_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DATE_TIME = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)")
_DURATION = re.compile(r"([+-]?)P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
_ESCAPE = re.compile(r"\\(.)")
# Outlook and Exchange write Windows zone names; these are the ones a UK network meets.
_WINDOWS_ZONES = {
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Eastern Standard Time": "America/New_York",
    "Pacific Standard Time": "America/Los_Angeles",
}


class CalendarError(ValueError):
    """The file is not an iCalendar file that can be read at all."""


@dataclass(frozen=True)
class IcsEvent:
    """One VEVENT: `line` is where its BEGIN:VEVENT is; `fields` uses the importer's names."""

    line: int
    fields: dict[str, object]


@dataclass(frozen=True)
class IcsProblem:
    line: int
    reason: str


@dataclass(frozen=True)
class _Property:
    line: int
    name: str
    params: dict[str, str]
    value: str


def read_calendar(data: bytes) -> list[IcsEvent | IcsProblem]:
    """Every top-level VEVENT in the file, or why it cannot be used, in file order."""
    lines = _logical_lines(data)
    first = next(lines, None)
    if first is None or first[1].strip().upper() != "BEGIN:VCALENDAR":
        raise CalendarError("not an iCalendar file (it does not start with BEGIN:VCALENDAR)")
    found: list[IcsEvent | IcsProblem] = []
    stack = ["VCALENDAR"]
    event: list[_Property] | None = None
    event_line = 0
    for number, text in lines:
        marker, _, component = text.partition(":")
        marker, component = marker.strip().upper(), component.strip().upper()
        if marker == "BEGIN":
            stack.append(component)
            if stack == ["VCALENDAR", "VEVENT"]:
                event, event_line = [], number
        elif marker == "END":
            if component in stack:  # tolerate a missing END inside, e.g. an unclosed VALARM
                del stack[stack.index(component) :]
            if component == "VEVENT" and event is not None:
                found.append(_event(event_line, event))
                event = None
        elif event is not None and stack == ["VCALENDAR", "VEVENT"]:  # not a VALARM's lines
            event.append(_content_line(number, text))
    if event is not None:
        found.append(IcsProblem(event_line, "the event is not closed (no END:VEVENT)"))
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


def _content_line(number: int, text: str) -> _Property:
    """`NAME;PARAM=value;PARAM="quoted:value":VALUE`; an unreadable line becomes `?`."""
    match = _NAME.match(text)
    if match is None:
        return _Property(number, "?", {}, text)
    at, params = match.end(), {}
    while at < len(text) and text[at] == ";":
        equals = text.find("=", at)
        if equals < 0:
            return _Property(number, "?", {}, text)
        key, at = text[at + 1 : equals].strip().upper(), equals + 1
        value_start = at
        while at < len(text) and text[at] not in ";:":
            if text[at] == '"':
                closing = text.find('"', at + 1)
                at = len(text) if closing < 0 else closing
            at += 1
        params[key] = text[value_start:at].replace('"', "")
    if at >= len(text) or text[at] != ":":
        return _Property(number, "?", {}, text)
    return _Property(number, match.group(0).upper(), params, text[at + 1 :])


def _unescape(value: str) -> str:
    """TEXT values escape `\\`, `;`, `,` and newlines (`\\n` or `\\N`)."""
    return _ESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _event(line: int, properties: list[_Property]) -> IcsEvent | IcsProblem:
    props: dict[str, _Property] = {}
    for prop in properties:
        if prop.name == "?":
            return IcsProblem(prop.line, f"unreadable line {prop.value[:60]!r}")
        props.setdefault(prop.name, prop)  # the first wins; repeats are invalid anyway
    if "RECURRENCE-ID" in props:
        return IcsProblem(line, "changes one occurrence of a recurring event; not imported")
    if "DTSTART" not in props:
        return IcsProblem(line, "missing start date (no DTSTART)")
    try:
        starts = _moment(props["DTSTART"])
        ends = _ends(props, starts)
    except ValueError as exc:
        return IcsProblem(line, str(exc))
    fields: dict[str, object] = {"starts": starts}
    if ends is not None:
        fields["ends"] = ends
    for name, key in (("SUMMARY", "title"), ("LOCATION", "location"), ("DESCRIPTION", "summary")):
        if name in props:
            fields[key] = _unescape(props[name].value)
    for name, key in (("URL", "url"), ("RRULE", "rrule")):
        if name in props:
            fields[key] = props[name].value.strip()
    if "STATUS" in props and props["STATUS"].value.strip().upper() == "CANCELLED":
        fields["status"] = "cancelled"
    return IcsEvent(line, fields)


def _ends(props: dict[str, _Property], starts: date) -> date | None:
    """DTEND, or DTSTART + DURATION; an all-day event's end date is exclusive, so step back."""
    if "DTEND" in props:
        ends = _moment(props["DTEND"])
    elif "DURATION" in props:
        ends = starts + _duration(props["DURATION"].value)
    else:
        return None
    if isinstance(ends, datetime) or isinstance(starts, datetime):
        return ends
    return max(starts, ends - timedelta(days=1))


def _moment(prop: _Property) -> date:
    """A DATE, or a DATE-TIME that is UTC (`Z`), in a TZID zone, or floating (naive)."""
    value = prop.value.strip()
    all_day = prop.params.get("VALUE", "").upper() == "DATE" or len(value) == 8
    match = (_DATE if all_day else _DATE_TIME).fullmatch(value)
    if match is None:
        kind = "date" if all_day else "date and time"
        raise ValueError(f"{prop.name} {value!r} is not a valid {kind}")
    year, month, day, *clock = (int(part) for part in match.groups()[:6])
    zone = None if all_day else _tz(prop, match)  # outside the try: it has its own message
    try:
        if all_day:
            return date(year, month, day)
        hour, minute, second = clock
        return datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        raise ValueError(f"{prop.name} {value!r} is not a valid date") from None


def _tz(prop: _Property, match: re.Match[str]) -> tzinfo | None:
    """UTC for a trailing `Z`, the TZID zone, or none for a floating (wall-clock) time."""
    if match.group(7):
        return UTC
    return _zone(prop.params["TZID"]) if "TZID" in prop.params else None


def _zone(tzid: str) -> ZoneInfo:
    """An IANA zone, a Windows zone name, or a vendor-prefixed IANA name (`/x.org/Europe/X`)."""
    name = tzid.strip()
    candidates = [name, _WINDOWS_ZONES.get(name, ""), "/".join(name.split("/")[-2:])]
    for candidate in candidates:
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    raise ValueError(f"unknown time zone {name!r}")


def _duration(value: str) -> timedelta:
    match = _DURATION.fullmatch(value.strip())
    if match is None or not any(match.groups()[1:]):
        raise ValueError(f"DURATION {value.strip()!r} is not a valid duration")
    sign, weeks, days, hours, minutes, seconds = match.groups()
    amount = timedelta(
        weeks=int(weeks or 0),
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
    )
    return -amount if sign == "-" else amount
