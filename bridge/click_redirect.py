"""`/r/<token>` on the service's HTTP listener: a link in a digest or broadcast, counted, then
a 302 to the address the push held (handlers/click_links.py wrote it; store/clicks.py keeps
the count).

A click adds one to its link's count for the day and stores nothing else: not the address,
browser or time of the request, nor who it was. Link previews (Slack's and Telegram's
unfurling, crawlers) are sent on without counting, and so are HEAD requests. A token the
bridge never made is a friendly 404, never a redirect: nothing here can send a reader
anywhere a push did not say.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from aiohttp import web
from markupsafe import Markup

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


def add_route(routes: web.Application, app: App) -> None:
    async def follow(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        async with app.db.read() as session:
            link = await clicks.target(session, token)
        if link is None:
            name = app.settings.network_name
            return web.Response(
                status=404,
                text=str(_NOT_FOUND % (name, name)),
                content_type="text/html",
                headers={"Cache-Control": "no-store"},
            )
        previewing = _PREVIEWERS.search(request.headers.get("User-Agent", ""))
        if request.method == "GET" and not previewing:
            try:
                async with app.db.session() as session:
                    today = datetime.now(app.settings.zone).date()
                    await clicks.count_click(session, link.id, today)
            except Exception as exc:  # the reader still gets where they were going
                log.warning("a click was not counted (%s)", type(exc).__name__)
        # no-store: each click reaches the bridge; no-referrer: the target is not told where
        # the reader came from.
        return web.Response(
            status=302,
            headers={
                "Location": link.url,
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
            },
        )

    routes.router.add_get(REDIRECT_PATH + "{token}", follow)
