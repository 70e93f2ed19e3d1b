"""iCalendar files (RFC 5545) for the network's events: one event, or the whole feed.

Lines end in CRLF and are folded at 75 octets (never inside a UTF-8 character); text values
are escaped. Timed events carry `TZID=<network zone>` with a VTIMEZONE, so a 10:00 meeting
stays at 10:00 local time across the clock changes, including in a recurring series (RRULE).
Events with no start time are all-day events. A series' cancelled and extra dates are EXDATE
and RDATE; a moved date is an override with the series' UID and a RECURRENCE-ID. Nothing is
invented: a series with no known first date starts at its next occurrence, and an event with
no day is left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from ccin_bridge.handlers.dates import next_occurrences
from ccin_bridge.store.records import EventRecord

PRODID = "-//Co-operative Councils' Innovation Network//ccin-bridge//EN"
UID_DOMAIN = "ccin-bridge"
MIME_TYPE = "text/calendar"
FEED_PATH = "/calendar.ics"  # the whole calendar on the service's HTTP listener
LINE_OCTETS = 75
CRLF = "\r\n"
SKIPPED = ("superseded",)  # a superseded entry is replaced by another: not in calendars

# The UK rules since 1996, as every calendar program publishes them.
LONDON = (
    "BEGIN:VTIMEZONE",
    "TZID:Europe/London",
    "X-LIC-LOCATION:Europe/London",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0000",
    "TZOFFSETTO:+0100",
    "TZNAME:BST",
    "DTSTART:19700329T010000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0000",
    "TZNAME:GMT",
    "DTSTART:19701025T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
)


def escape_text(value: str) -> str:
    """TEXT escaping: backslash, semicolon, comma and line breaks."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Split a content line into lines of at most 75 octets, continuation lines starting with
    one space, without cutting a multi-byte character."""
    out: list[str] = []
    current, size, limit = "", 0, LINE_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current, size, limit = " ", 1, LINE_OCTETS
        current += char
        size += width
    out.append(current)
    return CRLF.join(out)


def can_export(event: EventRecord) -> bool:
    return event.status not in SKIPPED and (event.starts_on is not None or bool(event.rrule))


def calendar(
    events: Iterable[EventRecord], *, zone: ZoneInfo, now: datetime, name: str | None = None
) -> bytes:
    """A VCALENDAR with every exportable event."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    if name:
        lines.append(f"X-WR-CALNAME:{escape_text(name)}")
    lines.append(f"X-WR-TIMEZONE:{zone.key}")
    today = now.astimezone(zone).date()
    every = list(events)
    series: dict[str | None, EventRecord] = {
        e.uid: e for e in every if e.uid and e.rrule and e.recurrence_on is None
    }
    # A changed date is written as its series' override (same UID, RECURRENCE-ID) when the
    # series is written too; a cancelled one stays an EXDATE of its series.
    overrides: dict[tuple[str | None, date | None], EventRecord] = {
        (e.uid, e.recurrence_on): e
        for e in every
        if e.uid in series and e.recurrence_on is not None and e.status != "cancelled"
    }
    found = [
        v
        for e in every
        if (e.uid not in series or e.recurrence_on is None or (e.uid, e.recurrence_on) in overrides)
        and (v := _vevent(e, zone, now, today, series, overrides)) is not None
    ]
    if any(timed for timed, _ in found):
        lines += vtimezone(zone, today.year)
    for _, vevent in found:
        lines += vevent
    lines.append("END:VCALENDAR")
    return (CRLF.join(fold(line) for line in lines) + CRLF).encode("utf-8")


def _vevent(
    event: EventRecord,
    zone: ZoneInfo,
    now: datetime,
    today: date,
    series: dict[str | None, EventRecord],
    overrides: dict[tuple[str | None, date | None], EventRecord],
) -> tuple[bool, list[str]] | None:
    if not can_export(event):
        return None
    rule = _rrule(event)
    if event.rrule and rule is None:
        return None  # an unreadable rule: better absent than wrong
    first = event.starts_on
    if first is None:  # a series with no known first date starts at its next occurrence
        upcoming = next_occurrences(event, today, 1)
        if not upcoming:
            return None
        first = upcoming[0]
    parent = series.get(event.uid) if event.recurrence_on is not None else None
    lines = [
        "BEGIN:VEVENT",
        f"UID:{_uid(event)}",
        f"DTSTAMP:{now.astimezone(UTC):%Y%m%dT%H%M%SZ}",
    ]
    if parent is not None and event.recurrence_on is not None:
        lines.append("RECURRENCE-ID" + _moment(event.recurrence_on, parent.start_time, zone))
    timed = event.start_time is not None
    if event.start_time is not None:
        start = datetime.combine(first, event.start_time)
        lines.append(f"DTSTART;TZID={zone.key}:{start:%Y%m%dT%H%M%S}")
        if event.duration_minutes:
            lines.append(f"DURATION:PT{event.duration_minutes}M")
    else:
        last = event.ends_on if event.ends_on and event.ends_on >= first else first
        lines.append(f"DTSTART;VALUE=DATE:{first:%Y%m%d}")
        lines.append(f"DTEND;VALUE=DATE:{last + timedelta(days=1):%Y%m%d}")
        lines.append("TRANSP:TRANSPARENT")
    if rule is not None:
        lines.append(f"RRULE:{rule}")
        for day in event.rdates:
            lines.append("RDATE" + _moment(day, event.start_time, zone))
        for day in event.exdates:
            if (event.uid, day) not in overrides:  # else its override says where it went
                lines.append("EXDATE" + _moment(day, event.start_time, zone))
    lines.append(f"SUMMARY:{escape_text(event.title)}")
    where = "Online" if event.online else event.location
    if where:
        lines.append(f"LOCATION:{escape_text(where)}")
    description = [event.summary] if event.summary else []
    if not timed:
        description.append("Time to be confirmed.")
    if event.url:
        description.append(event.url)
        lines.append(f"URL:{_uri(event.url)}")
    if description:
        lines.append(f"DESCRIPTION:{escape_text(chr(10).join(description))}")
    lines.append("STATUS:CANCELLED" if event.status == "cancelled" else "STATUS:CONFIRMED")
    lines.append("END:VEVENT")
    return timed, lines


def _uid(event: EventRecord) -> str:
    """The calendar's own UID for an imported event (so a subscriber's copy of a council's
    meeting is the same event), else one of ours."""
    return event.uid or f"event-{event.id}@{UID_DOMAIN}"


def _moment(day: date, at: time | None, zone: ZoneInfo) -> str:
    """`;TZID=zone:YYYYMMDDTHHMMSS` for a timed series' date, `;VALUE=DATE:YYYYMMDD` else:
    the form its DTSTART has, as RFC 5545 asks of RDATE, EXDATE and RECURRENCE-ID."""
    if at is None:
        return f";VALUE=DATE:{day:%Y%m%d}"
    return f";TZID={zone.key}:{datetime.combine(day, at):%Y%m%dT%H%M%S}"


def _rrule(event: EventRecord) -> str | None:
    if not event.rrule:
        return None
    rule = event.rrule.strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[6:]
    if not rule or any(c in rule for c in "\r\n"):
        return None
    try:
        rrulestr(rule, dtstart=datetime(2020, 1, 1))  # noqa: DTZ001 (syntax check only)
    except (ValueError, TypeError):
        return None
    return rule.upper()


def _uri(url: str) -> str:
    return "".join(c for c in url if c not in "\r\n")


def vtimezone(zone: ZoneInfo, year: int) -> list[str]:
    """The zone's definition: the UK rules for Europe/London; for any other zone, its actual
    transitions from the year before `year` to ten years after, read from the tz database."""
    if zone.key == "Europe/London":
        return list(LONDON)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{zone.key}"]
    changes = _transitions(zone, year - 1, year + 10)
    if not changes:
        offset = _offset(datetime(year, 1, 1, tzinfo=zone))
        return [
            *lines,
            "BEGIN:STANDARD",
            "DTSTART:19700101T000000",
            f"TZOFFSETFROM:{offset}",
            f"TZOFFSETTO:{offset}",
            "END:STANDARD",
            "END:VTIMEZONE",
        ]
    for at_utc, before, after in changes:
        kind = "DAYLIGHT" if after.dst() else "STANDARD"
        local = at_utc.astimezone(UTC) + (before.utcoffset() or timedelta(0))
        lines += [
            f"BEGIN:{kind}",
            f"DTSTART:{local:%Y%m%dT%H%M%S}",
            f"TZOFFSETFROM:{_offset(before)}",
            f"TZOFFSETTO:{_offset(after)}",
            *([f"TZNAME:{after.tzname()}"] if after.tzname() else []),
            f"END:{kind}",
        ]
    return [*lines, "END:VTIMEZONE"]


Change = tuple[datetime, datetime, datetime]


def _transitions(zone: ZoneInfo, first: int, last: int) -> list[Change]:
    """(UTC instant, aware time just before, aware time at) for each offset change."""
    found: list[Change] = []
    cursor = datetime(first, 1, 1, tzinfo=UTC)
    end = datetime(last + 1, 1, 1, tzinfo=UTC)
    step = timedelta(days=1)
    while cursor < end:
        nxt = cursor + step
        if cursor.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():
            low, high = cursor, nxt
            while high - low > timedelta(minutes=1):
                mid = low + (high - low) / 2
                if mid.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = mid
                else:
                    high = mid
            high = high.replace(second=0, microsecond=0)
            before = (high - timedelta(minutes=1)).astimezone(zone)
            found.append((high, before, high.astimezone(zone)))
        cursor = nxt
    return found


def _offset(moment: datetime) -> str:
    delta = moment.utcoffset() or timedelta(0)
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
