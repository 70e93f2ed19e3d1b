"""/ics EVENT_ID: an event as a calendar file, for "Add to calendar" under /events."""

from __future__ import annotations

from ccin_bridge.handlers import ics
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.replies import Attachment, Reply, ReplyBuilder, bold
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
        raise UserFacingError(f"“{event.title}” has no date yet, so there is nothing to add.")
    content = ics.calendar([event], zone=ctx.settings.zone, now=ctx.now)
    return (
        ReplyBuilder()
        .para("Open this file to add ", bold(event.title), " to your calendar.")
        .build(attachment=Attachment(f"event-{event.id}.ics", content, ics.MIME_TYPE))
    )


COMMANDS = [
    Command(
        "ics",
        "Add an event to your calendar (.ics file)",
        event_file,
        usage="ics EVENT_ID",
        read_only=True,
    )
]
