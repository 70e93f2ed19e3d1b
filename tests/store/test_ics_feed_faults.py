"""Faults a reviewer found in calendar imports and feeds, each pinned by a test: rules that
never occur, huge or broken feeds, and what a feed may cancel. The calendars are fictional."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers.config import CalendarFeed, Settings
from ccin_bridge.scheduler import feed_jobs
from ccin_bridge.store import event_feeds
from ccin_bridge.store.db import Database
from ccin_bridge.store.importers import LONDON, ImportReport, import_file
from ccin_bridge.store.importers_ics import MAX_EVENTS, CalendarError, read_calendar
from ccin_bridge.store.models import Event, EventFeed


def _calendar(*events: str) -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Exampleton//Test//EN\r\n"
    return (head + "".join(events) + "END:VCALENDAR\r\n").encode()


def _event(uid: str, title: str, starts: str, extra: str = "") -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:{title}\r\nDTSTART:{starts}\r\n{extra}END:VEVENT\r\n"
    )


async def test_a_rule_that_never_occurs_is_refused_as_such(db: Database, tmp_path: Path) -> None:
    # 31 February never comes; nor, within ten years of March 2026, a Monday 29 February
    # (the first is in 2044): both are refused, the search going no further than that.
    path = tmp_path / "rules.ics"
    path.write_bytes(
        _calendar(
            _event(
                "never@exampleton.example",
                "Exampleton never",
                "20260302T193000",
                "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31\r\n",
            ),
            _event(
                "leap@exampleton.example",
                "Exampleton leap Monday",
                "20260302T193000",
                "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO\r\n",
            ),
            _event(
                "weekly@exampleton.example",
                "Exampleton weekly",
                "20260302T193000",
                "RRULE:FREQ=WEEKLY;COUNT=3\r\n",
            ),
        )
    )
    async with db.session() as session:
        report = await import_file(session, "events", path)
    assert report.created == 1
    never = "never occurs within 10 years of the start"
    assert [
        (e.where, e.reason.startswith("rrule 'FREQ="), e.reason.endswith(never))
        for e in report.errors
    ] == [
        ("line 4", True, True),
        ("line 10", True, True),
    ]


def test_a_calendar_with_too_many_events_is_refused_before_it_is_parsed() -> None:
    events = [
        _event(f"e{n}@exampleton.example", "Exampleton event", "20270101T100000")
        for n in range(MAX_EVENTS + 1)
    ]
    with pytest.raises(CalendarError) as refused:
        read_calendar(_calendar(*events))
    assert str(refused.value) == "it has 20,001 events; at most 20,000 can be read from one file"


class _Feeds(BaseHTTPRequestHandler):
    """`/long` sends an ETag longer than the feed's column holds; the rest, a plain feed."""

    def do_GET(self) -> None:
        body = _calendar(_event("ok@exampleton.example", "Exampleton ok", "20270105T100000"))
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("ETag", '"' + "x" * 400 + '"' if self.path == "/long" else '"1"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def feeds_base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feeds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _subscribed(settings: Settings, urls: list[str]) -> Settings:
    feeds = settings.calendar_feeds.model_copy(
        # The fake is on 127.0.0.1: the opt-in for private addresses.
        update={"feeds": [CalendarFeed(url=url) for url in urls], "allow_private_addresses": True}
    )
    return settings.model_copy(update={"calendar_feeds": feeds})


async def test_an_etag_longer_than_its_column_is_not_kept_and_the_feed_still_updates(
    db: Database, settings: Settings, feeds_base: str
) -> None:
    # PostgreSQL refused the 402-character ETag when the check was committed, so the feed
    # failed on every fetch; SQLite stored it.
    urls = [f"{feeds_base}/long", f"{feeds_base}/ok"]
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert await feed_jobs.refresh_due(db, _subscribed(settings, urls), now) == 2
    async with db.read() as session:
        rows = {f.url: f for f in await session.scalars(select(EventFeed))}
    assert (rows[urls[0]].last_error, rows[urls[0]].etag) == (None, None)
    assert (rows[urls[1]].last_error, rows[urls[1]].etag) == (None, '"1"')


async def test_one_feed_failing_unexpectedly_is_recorded_and_the_next_is_fetched(
    db: Database, settings: Settings, feeds_base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = [f"{feeds_base}/first", f"{feeds_base}/ok"]
    applying = event_feeds.apply

    async def fault_in_the_first(
        session: AsyncSession, feed_id: int, path: Path, zone: ZoneInfo
    ) -> event_feeds.FeedResult:
        feed = await event_feeds.state(session, feed_id)
        if feed is not None and feed.url == urls[0]:
            raise RuntimeError("a fault that is not the importer's own")
        return await applying(session, feed_id, path, zone)

    monkeypatch.setattr(event_feeds, "apply", fault_in_the_first)
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert await feed_jobs.refresh_due(db, _subscribed(settings, urls), now) == 1
    async with db.read() as session:
        rows = {f.url: f for f in await session.scalars(select(EventFeed))}
        ok = await session.scalar(select(Event).where(Event.uid == "ok@exampleton.example"))
    assert ok is not None and ok.feed_id == rows[urls[1]].id
    assert rows[urls[1]].last_error is None
    failed = rows[urls[0]]
    assert failed.checked_at is not None  # tried again when next due, not at once
    assert failed.last_error == feed_jobs.UNEXPECTED  # no exception text for admins to see


def test_a_feeds_summary_has_one_full_stop_at_the_end() -> None:
    result = event_feeds.FeedResult(ImportReport(0, 1, 3), cancelled=2, restored=1)
    assert result.summary() == (
        "0 created, 1 updated, 3 unchanged; 2 events no longer in the feed: marked cancelled;"
        " 1 event back in the feed."
    )
    assert event_feeds.FeedResult(ImportReport(1, 0, 0)).summary() == (
        "1 created, 0 updated, 0 unchanged."
    )


FORUM = _event("forum@exampleton.example", "Exampleton forum", "20270114T140000")
CALL = _event("call@exampleton.example", "Exampleton call", "20270105T100000")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (_calendar(), "the feed had no events"),
        (
            _calendar(CALL).removesuffix(b"END:VCALENDAR\r\n"),
            "the file was cut short (it does not end with END:VCALENDAR)",
        ),
        (
            _calendar(CALL, "BEGIN:VEVENT\r\nUID:forum@exampleton.example\r\nEND:VEVENT\r\n"),
            "1 event could not be read",
        ),
    ],
    ids=["empty", "cut-short", "problem-row"],
)
async def test_a_copy_that_cannot_say_what_was_dropped_cancels_nothing(
    db: Database, tmp_path: Path, body: bytes, why: str
) -> None:
    path = tmp_path / "feed.ics"
    path.write_bytes(_calendar(CALL, FORUM))
    async with db.session() as session:
        feed_id = await event_feeds.subscribe(session, "https://exampleton.example/f", None)
        await event_feeds.apply(session, feed_id, path, LONDON)
    path.write_bytes(body)
    async with db.session() as session:
        result = await event_feeds.apply(session, feed_id, path, LONDON)
    async with db.read() as session:
        statuses = set(await session.scalars(select(Event.status).where(Event.feed_id == feed_id)))
    assert statuses == {"planned"}
    assert result.cancelled == 0
    assert result.summary().endswith(f"; nothing marked cancelled, as {why}.")
