"""Webhook mode: Telegram POSTs each update to a public HTTPS URL instead of being polled.

The bridge's own aiohttp server listens on a local host and port, usually behind a reverse
proxy that terminates TLS for the public URL. Every request must carry the
`X-Telegram-Bot-Api-Secret-Token` header with the secret given to `setWebhook`; any other
request gets 403 before its body is read, and nothing is done. The secret comes from
TELEGRAM_WEBHOOK_SECRET, or is made up at start-up (Telegram learns it from `setWebhook`).
PTB's own webhook server acknowledges an update before it is handled, so a crash would lose
it; this one stores it first (handlers/inbox.py).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ccin_bridge.bots.telegram.inbound import arrival
from ccin_bridge.bots.telegram.platform import DEFAULT_LISTEN
from ccin_bridge.handlers.config import ConfigError, Secrets
from ccin_bridge.handlers.inbox import Inbox

log = logging.getLogger(__name__)

SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as a secret token
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # an update is a few kB; nothing legitimate comes near this


@dataclass(frozen=True)
class WebhookConfig:
    url: str  # the public HTTPS URL Telegram posts to
    host: str  # where the local server listens
    port: int
    secret: str = field(repr=False)

    @property
    def path(self) -> str:
        """The local path served: the public URL's path, as a reverse proxy passes it on."""
        return urlsplit(self.url).path.strip("/")


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT`, `[::1]:PORT` or just `PORT` (on 127.0.0.1)."""
    host, sep, port = value.strip().rpartition(":")
    if not sep:
        host, port = "127.0.0.1", value.strip()
    host = host.removeprefix("[").removesuffix("]") or "127.0.0.1"
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"--telegram-listen {value!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN}")
    return host, int(port)


def webhook_config(url: str, listen: str | None, secret: str | None) -> WebhookConfig:
    """Check the options before anything starts, naming the option that is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(
            f"--telegram-webhook {url!r}: Telegram only posts to an https:// URL "
            "(e.g. https://bridge.example.org/telegram)"
        )
    if secret is None:
        secret = secrets.token_urlsafe(32)
    elif not _SECRET.fullmatch(secret):
        raise ConfigError(
            f"{SECRET_ENV}: use 1-256 characters from A-Z, a-z, 0-9, _ and - (Telegram's rule)"
        )
    host, port = parse_listen(listen or DEFAULT_LISTEN)
    return WebhookConfig(url=url, host=host, port=port, secret=secret)


def run_options(values: Mapping[str, str | None], given: Secrets) -> dict[str, Any]:
    """`ccin-bridge run`'s Telegram options as the adapter's arguments (the registry's
    `prepare_options`): webhook mode when `--telegram-webhook` is given."""
    url, listen = values.get("--telegram-webhook"), values.get("--telegram-listen")
    if url is None:
        if listen is not None:
            raise ConfigError("--telegram-listen only applies with --telegram-webhook URL")
        return {}
    return {"webhook": webhook_config(url, listen, given.get(SECRET_ENV))}


class WebhookServer:
    """Serves Telegram's POSTs: checks the secret before reading anything, caps the body,
    and answers 200 only once the update is stored (otherwise Telegram sends it again)."""

    def __init__(self, config: WebhookConfig, inbox: Inbox) -> None:
        self.config = config
        self.inbox = inbox
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY)  # larger bodies get 413 unread
        app.router.add_post("/" + self.config.path, self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.config.host, self.config.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner

    @property
    def port(self) -> int:
        """The port actually bound (port 0 picks a free one)."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("the webhook server is not running")
        return int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        # "replace": a header that is not text is simply wrong, never an error of ours.
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self.config.secret.encode()):
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="too large")
        try:
            raw = json.loads(await request.read())
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text="too large")
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
            return web.Response(status=400, text="not a JSON update")
        entry = arrival(raw)
        if entry is None:
            return web.Response(status=400, text="not an update")
        try:
            await self.inbox.receive([entry])
        except Exception:
            log.warning(
                "could not store a Telegram update; Telegram will send it again",
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            return web.Response(status=503, text="try again")
        return web.Response(text="ok")
