"""Socket Mode: Slack pushes requests over a websocket the bridge opens (SLACK_APP_TOKEN), so no
public HTTPS endpoint is needed. The same Bolt app answers; acknowledgements go back on the
socket. The URL comes from apps.connections.open on the Web API client's base URL."""

from __future__ import annotations

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


class SocketConnection:
    def __init__(self, app: AsyncApp, app_token: str, client: AsyncWebClient) -> None:
        self.handler = AsyncSocketModeHandler(app, app_token, web_client=client)

    async def start(self) -> None:
        await self.handler.connect_async()  # type: ignore[no-untyped-call]

    async def stop(self) -> None:
        await self.handler.close_async()  # type: ignore[no-untyped-call]
