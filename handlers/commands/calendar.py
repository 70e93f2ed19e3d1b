"""/ics EVENT_ID: an event as a calendar file, for "Add to calendar" under /events."""

from __future__ import annotations

from ccin_bridge.handlers import ics
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.replies import Attachment, Reply, ReplyBuilder, Span, bold, link
from ccin_bridge.store import reference


async def event_file(ctx: Context) -> Reply:
    wanted = ctx.args.strip().lstrip("#")
    if not wanted.isdigit():
        raise UserFacingError(
            f"Which event? Use the “Add to calendar” buttons under {ctx.request.show('events')}."
        )
    event = next((e for e in await reference.events(ctx.session) if e.id == int(wanted)), None)
    if event is None:
        raise UserFacingError(
            f"There is no event {wanted}. {ctx.request.show('events')} lists them."
        )
    if not ics.can_export(event):
        if event.status == "superseded":
            raise UserFacingError(
                f"“{event.title}” was replaced by a later announcement, so it is not offered "
                f"as a calendar file. {ctx.request.show('events')} lists what is coming."
            )
        raise UserFacingError(f"“{event.title}” has no date yet, so there is nothing to add.")
    content = ics.calendar([event], zone=ctx.settings.zone, now=ctx.now)
    builder = ReplyBuilder().para("Open this file to add ", bold(event.title), " to your calendar.")
    feed = subscribe_links(ctx.settings.http.public_url)
    if feed is not None:
        webcal, https = feed
        builder.para(
            "To have every event and each change as it is announced, subscribe to the "
            "network's calendar: ",
            link(webcal, webcal),
            Span(" (or add "),
            link(https, https),
            Span(" by URL)."),
        )
    return builder.build(attachment=Attachment(f"event-{event.id}.ics", content, ics.MIME_TYPE))


def subscribe_links(public_url: str | None) -> tuple[str, str] | None:
    """The calendar feed's webcal:// link and its https:// form, when the listener has a public
    address (config `http.public_url`; never a local one, which config refuses)."""
    if not public_url:
        return None
    https = f"{public_url.rstrip('/')}{ics.FEED_PATH}"
    return "webcal://" + https.split("://", 1)[1], https


COMMANDS = [
    Command(
        "ics",
        "Add an event to your calendar (.ics file)",
        event_file,
        usage="ics EVENT_ID",
        read_only=True,
    )
]
