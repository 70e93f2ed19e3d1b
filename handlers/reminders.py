"""Event reminders: which are due when, and what they say.

A lead of whole days ("7d", "1d") means the same wall-clock time that many days before, so a
10:00 meeting is reminded at 10:00 local time a week before even when the clocks change in
between. A lead in hours or minutes ("1h", "30m") is an exact interval before the start.
Events with no start time (the Officer Network's monthly meeting in the seeds) get the day
leads only, at `schedules.reminder_time`, and the reminder says the time is to be confirmed.

A scheduled job asks every few minutes for the reminders due in the last `lookback` (the
misfire grace): each has a unique key, so one that is seen twice is queued once, and one that
fell due longer ago than the grace (the bridge was down) is never sent late.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ccin_bridge.handlers.config import Schedules
from ccin_bridge.handlers.dates import INACTIVE, clock_time, long_date, series_between
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic, link
from ccin_bridge.store.records import EventRecord

TOPIC = "reminders"
_LEAD = re.compile(r"^([1-9][0-9]{0,2})([dhm])$")


@dataclass(frozen=True)
class Lead:
    """How long before an occurrence a reminder goes out."""

    text: str  # as configured: part of the reminder's unique key
    days: int = 0
    minutes: int = 0

    @classmethod
    def parse(cls, text: str) -> Lead:
        found = _LEAD.match(text)
        if found is None:
            raise ValueError(f"{text!r} is not a lead time such as 7d, 1h or 30m")
        amount, unit = int(found.group(1)), found.group(2)
        if unit == "d":
            return cls(text, days=amount)
        return cls(text, minutes=amount * 60 if unit == "h" else amount)

    @property
    def phrase(self) -> str:
        """`tomorrow`, `in 7 days`, `in 1 hour`, `in 30 minutes`."""
        if self.days == 1:
            return "tomorrow"
        if self.days:
            return f"in {self.days} days"
        if self.minutes % 60 == 0:
            hours = self.minutes // 60
            return f"in {hours} hour{'s' if hours != 1 else ''}"
        return f"in {self.minutes} minute{'s' if self.minutes != 1 else ''}"


@dataclass(frozen=True)
class DueReminder:
    event: EventRecord
    on: date  # the occurrence
    at: time | None  # its local start time, if known
    lead: Lead
    send_at: datetime  # UTC
    recurring: bool

    @property
    def key(self) -> str:
        """Unique per event, occurrence and lead: a reminder is queued once, ever."""
        return f"reminder:{self.event.id}:{self.on.isoformat()}:{self.lead.text}"


def leads_for(event: EventRecord, schedules: Schedules) -> list[Lead]:
    texts = list(schedules.reminder_leads)
    if event.online:
        texts += [t for t in schedules.online_reminder_leads if t not in texts]
    leads = [Lead.parse(t) for t in texts]
    # Without a start time only whole-day leads make sense.
    return leads if event.start_time is not None else [x for x in leads if x.days]


def send_time(
    on: date, at: time | None, lead: Lead, zone: ZoneInfo, reminder_time: time
) -> datetime | None:
    """The UTC instant a reminder for the occurrence on `on` goes out, or None if the lead
    cannot apply (an hour lead for an event with no time)."""
    if lead.days:
        local = datetime.combine(on - timedelta(days=lead.days), at or reminder_time, zone)
        return local.astimezone(UTC)
    if at is None:
        return None
    return datetime.combine(on, at, zone).astimezone(UTC) - timedelta(minutes=lead.minutes)


def occurrences_between(event: EventRecord, first: date, last: date) -> list[date]:
    """Dates of the event from `first` to `last` inclusive (one-off or by its RRULE)."""
    if event.status in INACTIVE:
        return []
    if not event.rrule:
        if event.starts_on is not None and first <= event.starts_on <= last:
            return [event.starts_on]
        return []
    # The same dates as /events: the rule, its extra dates, less the cancelled and moved ones.
    return series_between(event, first, last)


def due_reminders(
    events: Iterable[EventRecord],
    *,
    now: datetime,
    zone: ZoneInfo,
    schedules: Schedules,
    lookback: timedelta,
) -> list[DueReminder]:
    """Reminders whose time fell in (now - lookback, now], for occurrences not yet begun."""
    today = now.astimezone(zone).date()
    due: list[DueReminder] = []
    for event in events:
        leads = leads_for(event, schedules)
        if not leads:
            continue
        horizon = max(max(x.days, math.ceil(x.minutes / 1440)) for x in leads) + 1
        for on in occurrences_between(event, today, today + timedelta(days=horizon)):
            at = event.start_time
            if at is not None and datetime.combine(on, at, zone) <= now:
                continue  # already begun
            for lead in leads:
                when = send_time(on, at, lead, zone, schedules.reminder_time)
                if when is not None and now - lookback < when <= now:
                    due.append(DueReminder(event, on, at, lead, when, bool(event.rrule)))
    due.sort(key=lambda r: (r.send_at, r.event.id, r.lead.text))
    return due


def reminder_reply(reminder: DueReminder) -> Reply:
    event = reminder.event
    when = long_date(reminder.on)
    when += f", {clock_time(reminder.at)}" if reminder.at else " (time to be confirmed)"
    builder = ReplyBuilder().heading(f"Reminder: {event.title}")
    builder.para(bold(when), Span(f" — {reminder.lead.phrase}."))
    where = "Online" if event.online else event.location
    if where:
        builder.para(italic(where))
    if event.summary and not reminder.recurring:
        builder.para(event.summary)
    if event.url:
        builder.para(link("Details and booking", event.url))
    builder.para(italic("You get these because you subscribed to event reminders."))
    return builder.buttons(
        Button("Add to calendar", f"ics {event.id}"),
        Button("Stop reminders", "unsubscribe reminders"),
    ).build()
