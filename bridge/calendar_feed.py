"""`/calendar.ics` on the service's HTTP listener: every event as one iCalendar feed, for
people to subscribe to (webcal://) rather than download once.

Calendar programs fetch a subscribed feed every few hours; the ETag is a digest of the events
(not of the file, whose DTSTAMP is the time of the request), so a feed that has not changed
costs them a 304 and the bridge one read.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from aiohttp import web

from ccin_bridge.app import App
from ccin_bridge.handlers import ics
from ccin_bridge.store import reference


def add_route(routes: web.Application, app: App) -> None:
    async def calendar(request: web.Request) -> web.Response:
        async with app.db.read() as session:
            events = await reference.events(session)
        tag = '"' + hashlib.sha256(repr(events).encode()).hexdigest()[:32] + '"'
        headers = {"ETag": tag, "Cache-Control": "max-age=900"}
        if tag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        settings = app.settings
        body = ics.calendar(
            events, zone=settings.zone, now=datetime.now(UTC), name=settings.network_name
        )
        headers["Content-Disposition"] = 'inline; filename="calendar.ics"'
        return web.Response(body=body, content_type=ics.MIME_TYPE, charset="utf-8", headers=headers)

    routes.router.add_get(ics.FEED_PATH, calendar)
