"""A subscribed calendar feed kept in step over real HTTP from 127.0.0.1: new, changed, moved
and cancelled events, conditional fetches, and no reminder for a cancelled date (through the
scheduler's reminder job). The feed is fictional: it stands in for a council's calendar."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from sqlalchemy import select

from ccin_bridge.handlers.config import CalendarFeed, Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.scheduler import feed_jobs, reminder_jobs, runtime
from ccin_bridge.store import event_feeds
from ccin_bridge.store.models import Event, EventFeed, Identity, Person, Push, Subscription
from tests.conftest import Clock

TZ = 'TZID="(UTC+00:00) Dublin, Edinburgh, Lisbon, London"'
VTIMEZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:(UTC+00:00) Dublin, Edinburgh, Lisbon, London\r\n"
    "BEGIN:STANDARD\r\nDTSTART:16011028T020000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\n"
    "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0000\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:16010325T010000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n"
    "TZOFFSETFROM:+0000\r\nTZOFFSETTO:+0100\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
)
SERIES = (
    "BEGIN:VEVENT\r\nUID:call@exampleton.example\r\nSUMMARY:Exampleton co-op call\r\n"
    f"DTSTART;{TZ}:20261201T100000\r\nDTEND;{TZ}:20261201T110000\r\n"
    "RRULE:FREQ=MONTHLY;BYDAY=1TU\r\n{extra}END:VEVENT\r\n"
)
FORUM = (
    "BEGIN:VEVENT\r\nUID:forum@exampleton.example\r\nSUMMARY:Exampleton housing forum\r\n"
    f"DTSTART;{TZ}:20270114T140000\r\nEND:VEVENT\r\n"
)
MOVED = (
    "BEGIN:VEVENT\r\nUID:call@exampleton.example\r\nSUMMARY:Exampleton co-op call\r\n"
    f"RECURRENCE-ID;{TZ}:20270202T100000\r\n"
    f"DTSTART;{TZ}:20270203T100000\r\nDTEND;{TZ}:20270203T110000\r\nEND:VEVENT\r\n"
)
CLINIC = (
    "BEGIN:VEVENT\r\nUID:clinic@exampleton.example\r\nSUMMARY:Sampleford energy clinic\r\n"
    "DTSTART;VALUE=DATE:20270120\r\nEND:VEVENT\r\n"
)


def calendar(*events: str) -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Exampleton//Outlook//EN\r\n"
    return (head + VTIMEZONE + "".join(events) + "END:VCALENDAR\r\n").encode()


FIRST = calendar(SERIES.format(extra=""), FORUM)
# The January call cancelled, February's moved to the Wednesday, the forum gone, a clinic new.
SECOND = calendar(SERIES.format(extra=f"EXDATE;{TZ}:20270105T100000\r\n"), MOVED, CLINIC)


class _Feed(BaseHTTPRequestHandler):
    body: ClassVar[bytes] = FIRST
    conditional_hits: ClassVar[int] = 0

    def do_GET(self) -> None:
        tag = f'"{hash(self.body) & 0xFFFFFFFF:x}"'
        if self.headers.get("If-None-Match") == tag:
            type(self).conditional_hits += 1
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar; charset=utf-8")
        self.send_header("ETag", tag)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def feed_url() -> Iterator[str]:
    _Feed.body, _Feed.conditional_hits = FIRST, 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/meetings"
    server.shutdown()
    server.server_close()


def _subscribed(settings: Settings, url: str) -> Settings:
    # The fake is on 127.0.0.1: the opt-in for private addresses.
    feeds = settings.calendar_feeds.model_copy(
        update={"feeds": [CalendarFeed(url=url)], "allow_private_addresses": True}
    )
    return settings.model_copy(update={"calendar_feeds": feeds})


async def _feed_events(bridge: Bridge) -> dict[tuple[str, date | None], Event]:
    async with bridge.db.read() as session:
        rows = await session.scalars(select(Event).where(Event.uid.like("%@exampleton.example")))
        return {(e.uid or "", e.recurrence_on): e for e in rows}


async def _reminder_subscriber(bridge: Bridge) -> None:
    async with bridge.db.session() as session:
        person = Person(display_name="Alex Example")
        session.add(person)
        await session.flush()
        session.add_all(
            [
                Identity(person_id=person.id, platform="terminal", external_id="alex"),
                Subscription(person_id=person.id, topic="reminders", wanted=True),
            ]
        )


async def _reminders_at(bridge: Bridge, clock: Clock, now: datetime) -> list[str]:
    """The reminder job run at `now`: the keys of the reminders it queued."""
    clock.now = now
    runtime.install(runtime.Runtime(bridge=bridge))
    try:
        await reminder_jobs.send_event_reminders()
    finally:
        runtime.uninstall()
    async with bridge.db.read() as session:
        keys = await session.scalars(select(Push.key).where(Push.kind == "reminder"))
        return sorted(str(k) for k in keys)


async def test_a_feed_is_kept_in_step_and_a_cancelled_date_is_never_reminded(
    bridge: Bridge, settings: Settings, clock: Clock, feed_url: str
) -> None:
    subscribed = _subscribed(settings, feed_url)
    start = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert await feed_jobs.refresh_due(bridge.db, subscribed, start) == 1
    first = await _feed_events(bridge)
    series = first[("call@exampleton.example", None)]
    forum = first[("forum@exampleton.example", None)]
    assert (series.rrule, series.start_time, series.exdates) == (
        "FREQ=MONTHLY;BYDAY=1TU",
        time(10, 0),
        [],
    )
    assert (forum.starts_on, forum.start_time, forum.status) == (
        date(2027, 1, 14),
        time(14, 0),
        "planned",
    )
    assert series.feed_id is not None and forum.feed_id == series.feed_id

    # Not due again for six hours; then fetched, with the new version.
    _Feed.body = SECOND
    assert await feed_jobs.refresh_due(bridge.db, subscribed, start + timedelta(hours=1)) == 0
    assert await feed_jobs.refresh_due(bridge.db, subscribed, start + timedelta(hours=6)) == 1
    second = await _feed_events(bridge)
    assert second[("call@exampleton.example", None)].id == series.id  # updated in place
    assert second[("call@exampleton.example", None)].exdates == ["2027-01-05", "2027-02-02"]
    moved = second[("call@exampleton.example", date(2027, 2, 2))]
    assert (moved.starts_on, moved.start_time) == (date(2027, 2, 3), time(10, 0))
    assert second[("forum@exampleton.example", None)].status == "cancelled"  # gone from the feed
    assert second[("clinic@exampleton.example", None)].starts_on == date(2027, 1, 20)

    # Unchanged since: a conditional request, answered 304, and nothing touched.
    assert await feed_jobs.refresh_due(bridge.db, subscribed, start + timedelta(hours=12)) == 0
    assert _Feed.conditional_hits == 1
    async with bridge.db.read() as session:
        feed = await session.scalar(select(EventFeed))
    assert feed is not None and feed.last_error is None
    assert feed.changed_at == start + timedelta(hours=6)

    # Reminders a day before (10:00 GMT): none for the cancelled 5 January call, the old
    # 2 February date or the dropped forum; one for the call moved to 3 February.
    await _reminder_subscriber(bridge)
    late = timedelta(minutes=5)
    for day_before in (
        datetime(2027, 1, 4, 10, tzinfo=UTC),
        datetime(2027, 1, 13, 14, tzinfo=UTC),
        datetime(2027, 2, 1, 10, tzinfo=UTC),
    ):
        assert await _reminders_at(bridge, clock, day_before + late) == []
    reminded = await _reminders_at(bridge, clock, datetime(2027, 2, 2, 10, tzinfo=UTC) + late)
    assert reminded == [f"reminder:{moved.id}:2027-02-03:1d"]


async def test_a_feed_that_cannot_be_fetched_keeps_its_events_and_says_why(
    bridge: Bridge, settings: Settings, feed_url: str
) -> None:
    subscribed = _subscribed(settings, feed_url)
    start = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert await feed_jobs.refresh_due(bridge.db, subscribed, start) == 1
    _Feed.body = b"<html>Service unavailable</html>"
    assert await feed_jobs.refresh_due(bridge.db, subscribed, start + timedelta(hours=6)) == 0
    async with bridge.db.read() as session:
        feed = await session.scalar(select(EventFeed))
        assert feed is not None
        error = await event_feeds.last_error(session, feed.id)
    assert error is not None and "not an iCalendar file" in error
    events = await _feed_events(bridge)
    assert events[("forum@exampleton.example", None)].status == "planned"  # nothing lost
