"""Event reminders: lead times across the clock changes, recurring events with no time, and a
job that queues each reminder once, within the grace, never late. Every event here is
fictional and inserted by the test."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import delete, select

from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.reminders import Lead, due_reminders, reminder_reply
from ccin_bridge.scheduler import reminder_jobs, runtime
from ccin_bridge.store.models import Delivery, Event, Identity, Person, Push, Subscription
from ccin_bridge.store.records import EventRecord
from tests.conftest import Clock

MINUTE = timedelta(minutes=1)


def fictional(
    *,
    event_id: int = 901,
    starts_on: date | None = None,
    at: time | None = None,
    rrule: str | None = None,
    online: bool | None = None,
    status: str = "planned",
) -> EventRecord:
    return EventRecord(
        id=event_id,
        title="Exampleton Co-operative Lab",
        starts_on=starts_on,
        ends_on=None,
        date_text=None,
        status=status,
        start_time=at,
        rrule=rrule,
        duration_minutes=60,
        location="Sampleford Town Hall",
        online=online,
        url="https://example.org/lab",
        summary="A fictional test meeting.",
    )


def due_at(settings: Settings, event: EventRecord, now: datetime) -> dict[str, datetime]:
    found = due_reminders(
        [event], now=now, zone=settings.zone, schedules=settings.schedules, lookback=MINUTE
    )
    return {r.lead.text: r.send_at for r in found}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # Clocks go forward on Sunday 29 March 2026: the meeting is at 09:00 UTC, but a week
        # before, 10:00 in London was still 10:00 UTC.
        (
            date(2026, 3, 31),
            {"7d": utc(2026, 3, 24, 10), "1d": utc(2026, 3, 30, 9), "1h": utc(2026, 3, 31, 8)},
        ),
        # Clocks go back on Sunday 25 October 2026: the meeting is at 10:00 UTC, a week before
        # 10:00 in London was 09:00 UTC.
        (
            date(2026, 10, 27),
            {"7d": utc(2026, 10, 20, 9), "1d": utc(2026, 10, 26, 10), "1h": utc(2026, 10, 27, 9)},
        ),
    ],
)
def test_reminders_fall_at_the_right_instants_across_the_clock_change(
    settings: Settings, day: date, expected: dict[str, datetime]
) -> None:
    meeting = fictional(starts_on=day, at=time(10, 0), online=True)
    for lead, instant in expected.items():
        assert due_at(settings, meeting, instant) == {lead: instant}
        assert lead not in due_at(settings, meeting, instant - MINUTE)  # not a minute early


def test_hour_leads_are_for_online_meetings_only(settings: Settings) -> None:
    in_person = fictional(starts_on=date(2026, 10, 27), at=time(10, 0), online=False)
    assert due_at(settings, in_person, utc(2026, 10, 27, 9)) == {}
    assert due_at(settings, in_person, utc(2026, 10, 26, 10)) == {"1d": utc(2026, 10, 26, 10)}


def test_a_monthly_series_with_no_time_is_reminded_by_day_and_says_so(settings: Settings) -> None:
    series = fictional(rrule="FREQ=MONTHLY;BYDAY=1TU", online=True)  # no time, like the seeds
    # First Tuesday of December 2026 is the 1st: reminders at 09:00 on 24 and 30 November.
    assert due_at(settings, series, utc(2026, 11, 24, 9)) == {"7d": utc(2026, 11, 24, 9)}
    assert due_at(settings, series, utc(2026, 11, 30, 9)) == {"1d": utc(2026, 11, 30, 9)}
    # Online, but with no time an hour lead cannot apply.
    assert due_at(settings, series, utc(2026, 12, 1, 9)) == {}
    [reminder] = due_reminders(
        [series],
        now=utc(2026, 11, 30, 9),
        zone=settings.zone,
        schedules=settings.schedules,
        lookback=MINUTE,
    )
    assert reminder.on == date(2026, 12, 1)
    assert reminder.key == "reminder:901:2026-12-01:1d"
    shown = reminder_reply(reminder).plain_text
    assert "Tuesday 1 December 2026 (time to be confirmed)" in shown
    assert "tomorrow" in shown
    assert any(b.action == "ics 901" for row in reminder_reply(reminder).buttons for b in row)


def test_cancelled_and_past_events_get_no_reminders(settings: Settings) -> None:
    cancelled = fictional(starts_on=date(2026, 12, 8), at=time(10, 0), status="cancelled")
    assert due_at(settings, cancelled, utc(2026, 12, 7, 10)) == {}
    begun = fictional(starts_on=date(2026, 12, 8), at=time(10, 0), online=True)
    late = due_reminders(
        [begun],
        now=utc(2026, 12, 8, 10, 30),
        zone=settings.zone,
        schedules=settings.schedules,
        lookback=timedelta(hours=2),
    )
    assert late == []


def test_lead_times_read_as_people_say_them() -> None:
    assert Lead.parse("7d").phrase == "in 7 days"
    assert Lead.parse("1d").phrase == "tomorrow"
    assert Lead.parse("1h").phrase == "in 1 hour"
    assert Lead.parse("90m").phrase == "in 90 minutes"
    with pytest.raises(ValueError, match="lead time"):
        Lead.parse("soon")


# --- the job, against the store -------------------------------------------------------------


async def _setup(bridge: Bridge) -> int:
    """Only a fictional online meeting on 1 December 2026 at 10:00, and one subscriber with
    two platforms."""
    async with bridge.db.session() as session:
        await session.execute(delete(Event))
        event = Event(
            title="Testbury Digital Inclusion Call",
            starts_on=date(2026, 12, 1),
            start_time=time(10, 0),
            online=True,
            source="test",
            summary="Fictional.",
        )
        person = Person(display_name="Alex Example")
        session.add_all([event, person])
        await session.flush()
        session.add_all(
            [
                Identity(person_id=person.id, platform="telegram", external_id="5550001"),
                Identity(person_id=person.id, platform="slack", external_id="U0EXAMPLE"),
                Subscription(person_id=person.id, topic="reminders", wanted=True),
            ]
        )
        return event.id


async def _run_job(bridge: Bridge, clock: Clock, now: datetime) -> int:
    clock.now = now
    runtime.install(runtime.Runtime(bridge=bridge))
    try:
        return await reminder_jobs.send_event_reminders()
    finally:
        runtime.uninstall()


async def _pushes(bridge: Bridge) -> dict[str, int]:
    async with bridge.db.session() as session:
        rows = await session.execute(
            select(Push.key, Push.id).where(Push.kind == "reminder").order_by(Push.id)
        )
        return {str(key): push_id for key, push_id in rows}


async def test_the_job_queues_each_reminder_once_to_every_subscribed_chat(
    bridge: Bridge, clock: Clock
) -> None:
    event_id = await _setup(bridge)
    day_before = utc(2026, 11, 30, 10)  # 10:00 GMT on 30 November
    # Due 20 minutes ago (the bridge was down): queued once when it comes back.
    assert await _run_job(bridge, clock, day_before + timedelta(minutes=20)) == 1
    # The next check, and a restart running the job again, queue nothing more.
    assert await _run_job(bridge, clock, day_before + timedelta(minutes=35)) == 0
    assert await _run_job(bridge, clock, day_before + timedelta(minutes=35)) == 0
    pushes = await _pushes(bridge)
    key = f"reminder:{event_id}:2026-12-01:1d"
    assert list(pushes) == [key]
    async with bridge.db.session() as session:
        chats = set(
            await session.execute(
                select(Delivery.platform, Delivery.chat_id).where(Delivery.push_id == pushes[key])
            )
        )
        payload = await session.scalar(select(Push.payload).where(Push.id == pushes[key]))
    assert chats == {("telegram", "5550001"), ("slack", "U0EXAMPLE")}
    assert payload is not None
    text = reply_codec.decode(payload).plain_text
    assert "Testbury Digital Inclusion Call" in text and "Tuesday 1 December 2026, 10am" in text


async def test_a_reminder_due_longer_ago_than_the_grace_is_never_sent(
    bridge: Bridge, clock: Clock, settings: Settings
) -> None:
    await _setup(bridge)
    grace = timedelta(minutes=settings.schedules.misfire_grace_minutes)
    day_before = utc(2026, 11, 30, 10)  # the meeting is tomorrow: not begun, but too late
    assert await _run_job(bridge, clock, day_before + grace + MINUTE) == 0
    assert await _run_job(bridge, clock, day_before + grace - MINUTE) == 1  # just in time
    assert len(await _pushes(bridge)) == 1
