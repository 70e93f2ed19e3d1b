"""Socket Mode: Slack pushes requests over a websocket the bridge opens (SLACK_APP_TOKEN), so no
public HTTPS endpoint is needed. The URL comes from apps.connections.open on the Web API
client's base URL. As over HTTP, an event, command or button press is stored in the inbound
journal before its envelope is acknowledged (unacknowledged, Slack sends it again); what must
be answered in the acknowledgement (a form's submission) goes to Bolt at once."""

from __future__ import annotations

import time

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import (
    run_async_bolt_app,
    send_async_response,
)
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from ccin_bridge.bots.slack import intake
from ccin_bridge.handlers.inbox import Inbox


class SocketConnection:
    def __init__(self, app: AsyncApp, app_token: str, client: AsyncWebClient, inbox: Inbox) -> None:
        self.app = app
        self.inbox = inbox
        self.handler = AsyncSocketModeHandler(app, app_token, web_client=client)
        self.handler.client.socket_mode_request_listeners[:] = [self._on_request]

    async def start(self) -> None:
        await self.handler.connect_async()  # type: ignore[no-untyped-call]

    async def stop(self) -> None:
        await self.handler.close_async()  # type: ignore[no-untyped-call]

    async def _on_request(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        body = req.payload if isinstance(req.payload, dict) else {}
        entry = intake.arrival(body, mode=intake.SOCKET)
        if entry is None:
            started = time.time()
            await send_async_response(client, req, await run_async_bolt_app(self.app, req), started)
            return
        await self.inbox.receive([entry])  # raises if not stored: no acknowledgement then
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
