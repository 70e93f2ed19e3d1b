"""Keeps credentials out of the log, whoever writes the record and at whatever level.

Bot API URLs carry the Telegram token (`/bot<token>/sendMessage`), and at DEBUG httpx, httpcore,
PTB and slack-sdk log URLs, requests and answers. `SecretFilter`, installed on the handlers the
command line sets up, replaces every configured secret, and anything shaped like a Telegram or
Slack token, in each record's message, arguments and traceback before it is written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote

from ccin_bridge.handlers.config import Secrets

PLACEHOLDER = "[redacted]"
MIN_SECRET = 6  # shorter values would blank out ordinary words; real secrets are far longer
# Token shapes, configured or not: a Telegram bot token (also as Bot API URLs spell it) and
# Slack's bot, user, app-level and refresh tokens.
_SHAPES = re.compile(
    r"(?<![A-Za-z0-9])bot\d+:[A-Za-z0-9_-]+"
    r"|(?<![A-Za-z0-9])\d{6,}:[A-Za-z0-9_-]{30,}"
    r"|\bxox[abposre]-[A-Za-z0-9-]{6,}"
    r"|\bxapp-[A-Za-z0-9-]{6,}"
)


def secrets_of(secrets: Secrets) -> list[str]:
    """The credentials among the settings from the environment (not endpoints or URLs)."""
    return secrets.credentials()


class SecretFilter(logging.Filter):
    """Rewrites records so that no secret reaches a handler's output. Never drops a record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        variants = {
            form
            for secret in secrets
            if len(secret) >= MIN_SECRET
            for form in (secret, quote(secret, safe=""))  # as sent in a form or a query
        }
        # Longest first, so that a secret containing another is replaced whole.
        self._secrets = sorted(variants, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, PLACEHOLDER)
        return _SHAPES.sub(_shape_placeholder, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a format string that does not fit its arguments: keep both, safely
            message = f"{record.msg} (unformatted arguments: {record.args!r})"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            # Formatted here, the way the handler's formatter would, so that it can be cleaned.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def _shape_placeholder(match: re.Match[str]) -> str:
    return "bot" + PLACEHOLDER if match.group(0).startswith("bot") else PLACEHOLDER


def install_secret_filter(
    handler: logging.Handler, secrets: Secrets | None = None
) -> logging.Handler:
    """Put a `SecretFilter` for these secrets (default: the environment's) on `handler`."""
    handler.addFilter(SecretFilter(secrets_of(secrets or Secrets.from_env())))
    return handler
