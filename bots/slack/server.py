"""HTTP mode: an aiohttp server that hands Slack's POSTs to the Bolt app, on our host and port."""

from __future__ import annotations

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

EVENTS_PATH = "/slack/events"


class SlackHttpServer:
    def __init__(self, app: AsyncApp, *, host: str, port: int, path: str = EVENTS_PATH) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.path = path
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the Slack HTTP server is already running")
        web_app = web.Application()
        # Slash commands, buttons and events all arrive on the one URL, told apart by Bolt.
        web_app.router.add_post(self.path, self._handle)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    @property
    def url(self) -> str:
        """Where Slack should POST, with the port actually bound (port 0 picks a free one)."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("the Slack HTTP server is not running")
        host, port = self._runner.addresses[0][:2]
        host = f"[{host}]" if ":" in host else host  # an IPv6 address
        return f"http://{host}:{port}{self.path}"

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)
