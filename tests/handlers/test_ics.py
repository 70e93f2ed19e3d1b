"""iCalendar output (RFC 5545) and the `ics` command. Events are fictional, inserted here."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from sqlalchemy import delete

from ccin_bridge.handlers import ics
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.store.models import Event
from ccin_bridge.store.records import EventRecord
from tests.conftest import NOW, ask

LONDON = ZoneInfo("Europe/London")


def record(**changes: object) -> EventRecord:
    base: dict[str, object] = {
        "id": 7,
        "title": "Exampleton Co-operative Lab",
        "starts_on": date(2026, 10, 27),
        "ends_on": None,
        "date_text": None,
        "status": "planned",
        "start_time": time(10, 0),
        "rrule": None,
        "duration_minutes": 90,
        "location": "Sampleford Town Hall, Room 2; ground floor",
        "online": False,
        "url": "https://example.org/lab?a=1&b=2",
        "summary": "A fictional test meeting.",
    }
    base.update(changes)
    return EventRecord(**base)  # type: ignore[arg-type]


def unfolded(content: bytes) -> list[str]:
    text = content.decode("utf-8")
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")  # every line break is CRLF
    return text.replace("\r\n ", "").split("\r\n")[:-1]


def prop(lines: list[str], name: str) -> list[str]:
    return [line for line in lines if line.split(":", 1)[0].split(";", 1)[0] == name]


def test_text_is_escaped() -> None:
    assert ics.escape_text("a,b;c\\d\ne\r\nf") == "a\\,b\\;c\\\\d\\ne\\nf"


def test_long_lines_fold_at_75_octets_without_cutting_a_character() -> None:
    title = "Café co-operatif — a very long title 🙂 that goes on " * 6
    content = ics.calendar([record(title=title)], zone=LONDON, now=NOW)
    raw_lines = content.split(b"\r\n")
    assert max(len(line) for line in raw_lines) <= 75
    for line in raw_lines:
        line.decode("utf-8")  # no line ends inside a multi-byte character
    assert prop(unfolded(content), "SUMMARY") == [f"SUMMARY:{ics.escape_text(title)}"]


def test_a_timed_event_is_in_the_network_zone_with_its_definition() -> None:
    lines = unfolded(ics.calendar([record()], zone=LONDON, now=NOW, name="CCIN events"))
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and prop(lines, "PRODID")
    assert prop(lines, "DTSTART")[-1] == "DTSTART;TZID=Europe/London:20261027T100000"
    assert "DURATION:PT90M" in lines
    assert prop(lines, "UID") == ["UID:event-7@ccin-bridge"]
    assert prop(lines, "DTSTAMP") == ["DTSTAMP:20261122T120000Z"]
    assert "TZID:Europe/London" in lines
    assert "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU" in lines  # the zone's own rules
    assert prop(lines, "LOCATION") == ["LOCATION:Sampleford Town Hall\\, Room 2\\; ground floor"]
    assert prop(lines, "URL") == ["URL:https://example.org/lab?a=1&b=2"]


def test_a_monthly_series_with_no_time_is_all_day_from_its_next_date() -> None:
    series = record(starts_on=None, start_time=None, rrule="FREQ=MONTHLY;BYDAY=1TU", online=True)
    lines = unfolded(ics.calendar([series], zone=LONDON, now=NOW))
    assert prop(lines, "DTSTART") == ["DTSTART;VALUE=DATE:20261201"]  # no invented history
    assert prop(lines, "DTEND") == ["DTEND;VALUE=DATE:20261202"]
    assert prop(lines, "RRULE") == ["RRULE:FREQ=MONTHLY;BYDAY=1TU"]
    assert "Time to be confirmed." in prop(lines, "DESCRIPTION")[0]
    assert "BEGIN:VTIMEZONE" not in lines  # nothing timed, so no zone needed
    rule = rrulestr("FREQ=MONTHLY;BYDAY=1TU", dtstart=datetime(2026, 12, 1))  # noqa: DTZ001
    assert [rule[i].date() for i in range(3)] == [
        date(2026, 12, 1),
        date(2027, 1, 5),
        date(2027, 2, 2),
    ]


def test_undated_superseded_and_broken_events_are_left_out() -> None:
    feed = [
        record(id=1, starts_on=None, date_text="spring 2025"),
        record(id=2, status="superseded"),
        record(id=3, starts_on=None, rrule="FREQ=NEVERLY"),
        record(id=4, status="cancelled"),
    ]
    lines = unfolded(ics.calendar(feed, zone=LONDON, now=NOW))
    assert prop(lines, "UID") == ["UID:event-4@ccin-bridge"]
    assert "STATUS:CANCELLED" in lines


def test_other_zones_get_their_real_transitions() -> None:
    new_york = ZoneInfo("America/New_York")
    lines = ics.vtimezone(new_york, 2026)
    start = lines.index("DTSTART:20260308T020000")  # second Sunday of March, 02:00 local
    assert lines[start - 1] == "BEGIN:DAYLIGHT"
    assert lines[start + 1 : start + 3] == ["TZOFFSETFROM:-0500", "TZOFFSETTO:-0400"]
    fixed = ics.vtimezone(ZoneInfo("Asia/Kolkata"), 2026)
    assert "TZOFFSETTO:+0530" in fixed


# --- the command ----------------------------------------------------------------------------


async def _fictional_event(bridge: Bridge) -> int:
    async with bridge.db.session() as session:
        await session.execute(delete(Event))
        event = Event(
            title="Testbury Housing Forum",
            starts_on=date(2026, 12, 9),
            start_time=time(14, 30),
            duration_minutes=60,
            location="Testbury",
            source="test",
            summary="Fictional.",
        )
        session.add(event)
        await session.flush()
        return event.id


def _only(replies: list[Reply]) -> Reply:
    assert len(replies) == 1
    return replies[0]


async def test_ics_command_answers_with_a_calendar_file(bridge: Bridge) -> None:
    event_id = await _fictional_event(bridge)
    reply = _only(await bridge.handle(ask("ics", str(event_id))))
    assert reply.attachment is not None
    assert reply.attachment.filename == f"event-{event_id}.ics"
    assert reply.attachment.mime_type == "text/calendar"
    lines = unfolded(reply.attachment.content)
    assert "SUMMARY:Testbury Housing Forum" in lines
    assert "DTSTART;TZID=Europe/London:20261209T143000" in lines


async def test_ics_command_explains_a_wrong_id(bridge: Bridge) -> None:
    await _fictional_event(bridge)
    assert "There is no event 999999" in _only(await bridge.handle(ask("ics", "999999"))).plain_text
    assert "Which event?" in _only(await bridge.handle(ask("ics", "soon"))).plain_text


async def test_events_offers_add_to_calendar_per_event(bridge: Bridge) -> None:
    event_id = await _fictional_event(bridge)
    reply = _only(await bridge.handle(ask("events")))
    actions = [b.action for row in reply.buttons for b in row]
    assert actions == [f"ics {event_id}"]
    assert reply.buttons[0][0].label == "Add to calendar: Testbury Housing Forum"
