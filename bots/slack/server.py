"""HTTP mode: an aiohttp server for Slack's POSTs, on our host and port.

Every request is verified here, before anything else reads it: a signature that is missing,
wrong or more than five minutes old, or a timestamp that is not a number, gets 401 and
nothing is done (Bolt's own check is off: it would see the body first, and the journal
replays requests long after their five minutes). A verified event, command or button press
is stored in the inbound journal before the 200 (bots/slack/intake.py); the rest goes to
Bolt at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from ccin_bridge.bots.slack import intake
from ccin_bridge.handlers.inbox import Inbox

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024  # Slack's payloads are a few kB


class SlackHttpServer:
    def __init__(
        self,
        app: AsyncApp,
        inbox: Inbox,
        *,
        signing_secret: str,
        host: str,
        port: int,
        path: str = EVENTS_PATH,
    ) -> None:
        self.app = app
        self.inbox = inbox
        self.verifier = SignatureVerifier(signing_secret)
        self.host = host
        self.port = port
        self.path = path
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the Slack HTTP server is already running")
        web_app = web.Application(client_max_size=MAX_BODY)
        # Slash commands, buttons and events all arrive on the one URL.
        web_app.router.add_post(self.path, self._handle)
        runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=1.0)
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
        try:
            body = (await request.read()).decode()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413)
        except UnicodeDecodeError:  # Slack signs text: this cannot be verified
            return web.Response(status=401)
        if not self._verified(body, request):
            return web.Response(status=401)
        headers: dict[str, str | Sequence[str]] = {k.lower(): v for k, v in request.headers.items()}
        bolt_request = AsyncBoltRequest(body=body, headers=headers)
        entry = intake.arrival(bolt_request.body, mode=intake.HTTP, raw=body)
        if entry is None:
            try:
                return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))
            except Exception as exc:  # a payload Bolt cannot take apart
                log.error("Slack request failed in Bolt: %s", type(exc).__name__)
                return web.Response(status=500)
        try:
            await self.inbox.receive([entry])
        except Exception:
            # Not stored, so not acknowledged: Slack retries an event; a person sees an error.
            log.warning("could not store a Slack request", exc_info=log.isEnabledFor(logging.DEBUG))
            return web.Response(status=503)
        return web.Response(status=200)

    def _verified(self, body: str, request: web.Request) -> bool:
        timestamp = request.headers.get("X-Slack-Request-Timestamp")
        signature = request.headers.get("X-Slack-Signature")
        if not timestamp or not signature or not timestamp.strip().isdigit():
            return False
        try:
            return self.verifier.is_valid(body, timestamp, signature)
        except (ValueError, TypeError):
            return False
