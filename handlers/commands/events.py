"""/events: what is coming up, including the Officer Network's monthly meeting."""

from __future__ import annotations

from datetime import date

from ccin_bridge.handlers.commands.calendar import subscribe_links
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.dates import Occurrence, clock_time, dates_ahead, long_date, short_date
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic, link
from ccin_bridge.store import reference
from ccin_bridge.store.records import EventRecord

RECENT = 3
SHOWN = 10  # dates at most: one chat message, one button per event


async def events(ctx: Context) -> Reply:
    today = ctx.now.astimezone(ctx.settings.zone).date()
    # Read only what can be shown: when the first one-off events to come and every series
    # are (one more than is shown, to know there are more), then the records of those shown.
    dated = await reference.coming_event_dates(ctx.session, today, first=SHOWN + 1)
    ahead = dates_ahead(dated, today, per_series=2, limit=SHOWN + 1)
    records = await reference.events_by_id(ctx.session, {e.id for e, _ in ahead[:SHOWN]})
    coming = [
        Occurrence(records[e.id], day, e.start_time, bool(e.rrule))
        for e, day in ahead[:SHOWN]
        if e.id in records  # else deleted meanwhile (PostgreSQL reads each statement afresh)
    ]
    builder = ReplyBuilder().heading("Upcoming events")
    if coming:
        builder.bullets([_line(o) for o in coming])
        if len(ahead) > SHOWN:
            builder.para(
                italic(f"These are the next {SHOWN} dates; more are announced after them.")
            )
    else:
        builder.para("No upcoming events are announced yet.")
    feed = subscribe_links(ctx.settings.http.public_url)
    if feed is not None:
        builder.para(italic("Subscribe to every event in your calendar: "), link(feed[0], feed[0]))
    # One "Add to calendar" button per event (a series once), answered with `ics ID`.
    for event_id, title in dict((o.event.id, o.event.title) for o in coming).items():
        builder.buttons(Button(f"Add to calendar: {_short(title)}", f"ics {event_id}"))
    if all(e.rrule for e in dated):  # no one-off event to come
        recent = await reference.recent_events(ctx.session, today, RECENT)
        if recent:
            builder.para(italic("No other dated events are announced yet. Most recent:"))
            builder.bullets([(bold(e.title), Span(_when_past(e))) for e in recent])
    return builder.build()


def _when_past(event: EventRecord) -> str:
    """` — 2 Jul 2024`, ` — 2–4 Jul 2024`, ` — 30 Jun – 2 Jul 2024`, or ` — July 2025` for an
    event known only to its month."""
    if event.starts_on is None:
        month = reference.known_month(event)
        return f" — {month:%B %Y}" if month else ""
    return f" — {day_range(event.starts_on, event.ends_on)}"


def day_range(first: date, last: date | None) -> str:
    """`2 Jul 2024`, `2–4 Jul 2024`, `30 Jun – 2 Jul 2024`, `30 Dec 2024 – 2 Jan 2025`."""
    if last is None or last <= first:
        return short_date(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{short_date(last)}"
    if first.year == last.year:
        return f"{first.day} {first:%b} – {short_date(last)}"
    return f"{short_date(first)} – {short_date(last)}"


def _short(title: str, limit: int = 40) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def _line(occurrence: Occurrence) -> tuple[Span, ...]:
    event = occurrence.event
    when = long_date(occurrence.on)
    last = event.ends_on
    if not occurrence.recurring and last is not None and last > occurrence.on:
        when += f" to {long_date(last)}"  # a multi-day event
    if occurrence.at is not None:
        when += f", {clock_time(occurrence.at)}"
    elif occurrence.recurring:
        when += " (time to be confirmed)"
    spans: list[Span] = [bold(when), Span(" — ")]
    spans.append(link(event.title, event.url) if event.url else Span(event.title))
    where = "online" if event.online else event.location
    if where:
        spans.append(italic(f" ({where})"))
    if event.summary and not occurrence.recurring:
        spans.append(Span(": " + event.summary))
    return tuple(spans)


COMMANDS = [Command("events", "Upcoming events and meetings", events, read_only=True)]
