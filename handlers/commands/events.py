"""/events: what is coming up, including the Officer Network's monthly meeting."""

from __future__ import annotations

from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.dates import Occurrence, clock_time, long_date, past, short_date, upcoming
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic, link
from ccin_bridge.store import reference

RECENT = 3


async def events(ctx: Context) -> Reply:
    all_events = await reference.events(ctx.session)
    today = ctx.now.astimezone(ctx.settings.zone).date()
    coming = upcoming(all_events, today, per_series=2)
    builder = ReplyBuilder().heading("Upcoming events")
    if coming:
        builder.bullets([_line(o) for o in coming])
    else:
        builder.para("No upcoming events are announced yet.")
    # One "Add to calendar" button per event (a series once), answered with `ics ID`.
    for event_id, title in dict((o.event.id, o.event.title) for o in coming).items():
        builder.buttons(Button(f"Add to calendar: {_short(title)}", f"ics {event_id}"))
    if not any(not o.recurring for o in coming):
        recent = past(all_events, today, RECENT)
        if recent:
            builder.para(italic("No other dated events are announced yet. Most recent:"))
            builder.bullets(
                [
                    (bold(e.title), Span(f" — {short_date(e.starts_on)}" if e.starts_on else ""))
                    for e in recent
                ]
            )
    return builder.build()


def _short(title: str, limit: int = 40) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def _line(occurrence: Occurrence) -> tuple[Span, ...]:
    event = occurrence.event
    when = long_date(occurrence.on)
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
