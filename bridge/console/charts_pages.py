"""The console's Engagement page: charts of members, joins and leaves, subscribers,
deliveries and clicks, and approval times, each drawn as SVG on the server with its numbers
in a table beside it and as a CSV download (handlers/engagement.py makes the numbers).

Read-only: it runs no command, so it has no business rule to share with the chat; signed-out
browsers are sent to sign in, as on every page.
"""

from __future__ import annotations

from aiohttp import web

from ccin_bridge.console import spreadsheet, svg_charts
from ccin_bridge.console.site import ConsoleSite
from ccin_bridge.handlers import engagement

PATH = "engagement"


class _Engagement:
    def __init__(self, site: ConsoleSite) -> None:
        self.site = site
        self.bridge = site.console.bridge

    async def _charts(self, slugs: tuple[str, ...] = engagement.SLUGS) -> list[engagement.Chart]:
        async with self.bridge.db.read() as session:
            return await engagement.charts(
                session, self.bridge.settings, self.bridge.clock(), slugs
            )

    async def page(self, request: web.Request) -> web.StreamResponse:
        signed = await self.site.signed_in(request)
        if signed is None:
            return self.site.to_sign_in(request)
        charts = await self._charts()
        return self.site.render(
            "engagement.html",
            title="Engagement",
            admin=signed.admin,
            csrf=signed.session.csrf,
            here=PATH,
            charts=[(c, svg_charts.draw(c), c.table()) for c in charts],
        )

    async def csv(self, request: web.Request) -> web.StreamResponse:
        signed = await self.site.signed_in(request)
        if signed is None:
            return self.site.to_sign_in(request)
        slug = request.match_info["slug"]
        # Only the chart the download is of is built.
        found = engagement.chart(await self._charts((slug,)), slug)
        if found is None:
            return web.Response(status=404, text="There is no such chart.")
        return spreadsheet.download(found.table(), f"ccin-{slug}.csv")


def add_routes(app: web.Application, site: ConsoleSite) -> None:
    pages = _Engagement(site)
    app.router.add_get(f"/{PATH}", pages.page)
    app.router.add_get(f"/{PATH}/{{slug:[a-z-]+}}.csv", pages.csv)
