"""`/r/<token>` on the service's HTTP listener: a link in a digest or broadcast, counted, then
a 302 to the address the push held (handlers/click_links.py wrote it; store/clicks.py keeps
the count).

A click adds one to its link's count for the day and stores nothing else: not the address,
browser or time of the request, nor who it was. Counts are kept in memory and written in one
unit of work every FLUSH_SECONDS and when the listener stops, so that a flood of requests
(anyone holding a link can send them) is no flood of writes queueing the bot's own on
SQLite's one write lock; the reader is sent on at once. Link previews (Slack's and Telegram's
unfurling, crawlers) are sent on without counting, and so are HEAD requests. A token the
bridge never made is a friendly 404, never a redirect: nothing here can send a reader
anywhere a push did not say.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from datetime import date, datetime

from aiohttp import web
from markupsafe import Markup
from yarl import URL

from ccin_bridge.app import App
from ccin_bridge.handlers.click_links import REDIRECT_PATH
from ccin_bridge.store import clicks

log = logging.getLogger(__name__)

# Fetchers that read a link to preview it, not people following it. Their User-Agent is
# read here and never kept.
_PREVIEWERS = re.compile(
    r"bot\b|bot/|crawler|spider|preview|facebookexternalhit|embedly|slurp|whatsapp", re.IGNORECASE
)
_NOT_FOUND = Markup(
    '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>Link not found – %s</title></head><body><main>"
    "<h1>This link is not known</h1>"
    "<p>It may have been mistyped or cut short. Open the message it came in and try the link "
    "there again, or ask the %s bot for what you were looking for.</p></main></body></html>"
)


FLUSH_SECONDS = 30.0
LAST_WRITE_SECONDS = 3.0  # of the bridge's 10 s to stop
# Distinct (link, day) counts held between writes: a bound on memory whatever comes in.
MAX_PENDING = 10_000


class ClickCounts:
    """Clicks not yet written: (link id, day) -> clicks."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.pending: dict[tuple[int, date], int] = {}
        self.dropped = 0  # clicks not held since the last write (told then, once)
        self._stopping = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    def add(self, link_id: int, day: date) -> bool:
        """One more click; False when too many links wait already (it is not counted)."""
        key = (link_id, day)
        if key not in self.pending and len(self.pending) >= MAX_PENDING:
            self.dropped += 1
            return False
        self.pending[key] = self.pending.get(key, 0) + 1
        return True

    async def flush(self) -> None:
        """Write what is pending in one unit of work (a database away loses those counts,
        never a reader)."""
        found, self.pending = self.pending, {}
        if self.dropped:
            log.warning("%d clicks were not counted: too many links waited", self.dropped)
            self.dropped = 0
        if not found:
            return
        try:
            async with self.app.db.session() as session:
                await clicks.count_clicks(session, found)
        except Exception as exc:
            log.warning("%d clicks were not counted (%s)", sum(found.values()), type(exc).__name__)

    async def _write_now_and_then(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), FLUSH_SECONDS)
            await self.flush()

    async def start(self, _routes: web.Application) -> None:
        self._writer = asyncio.create_task(self._write_now_and_then())

    async def stop(self, _routes: web.Application) -> None:
        """The last write, as the listener stops (a stalled database does not hold the
        stop up: the counts are lost after LAST_WRITE_SECONDS)."""
        self._stopping.set()
        writer, self._writer = self._writer, None
        try:
            async with asyncio.timeout(LAST_WRITE_SECONDS):
                if writer is not None:
                    await writer  # its last round writes what is held (cancelled at timeout)
                await self.flush()
        except TimeoutError:
            log.warning("clicks held at the stop were not counted: the database did not answer")


COUNTS = web.AppKey("click_counts", ClickCounts)


def add_route(routes: web.Application, app: App) -> None:
    counts = ClickCounts(app)
    routes[COUNTS] = counts
    routes.on_startup.append(counts.start)
    routes.on_cleanup.append(counts.stop)

    async def follow(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        async with app.db.read() as session:
            link = await clicks.target(session, token)
        location = None
        if link is not None:
            with contextlib.suppress(ValueError):  # the header carries it encoded
                location = str(URL(link.url))
        if link is None or location is None:
            name = app.settings.network_name
            return web.Response(
                status=404,
                text=str(_NOT_FOUND % (name, name)),
                content_type="text/html",
                headers={"Cache-Control": "no-store"},
            )
        previewing = _PREVIEWERS.search(request.headers.get("User-Agent", ""))
        today = datetime.now(app.settings.zone).date()
        if request.method == "GET" and not previewing:
            counts.add(link.id, today)
        # no-store: each click reaches the bridge; no-referrer: the target is not told where
        # the reader came from.
        return web.Response(
            status=302,
            headers={
                "Location": location,
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
            },
        )

    routes.router.add_get(REDIRECT_PATH + "{token}", follow)
