"""Webhook mode: Telegram POSTs each update to a public HTTPS URL instead of being polled.

PTB's own webhook server (tornado, the `[webhooks]` extra) listens on a local host and port,
usually behind a reverse proxy that terminates TLS for the public URL. Every request must
carry the `X-Telegram-Bot-Api-Secret-Token` header with the secret given to `setWebhook`;
PTB answers any other request 403 and handles nothing. The secret comes from
TELEGRAM_WEBHOOK_SECRET, or is made up at start-up (Telegram learns it from `setWebhook`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from handlers.config import ConfigError

DEFAULT_LISTEN = "127.0.0.1:8443"
SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as a secret token


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
