"""Where the log goes: standard error for the service (journald and `docker logs` read it), a
file for the terminal chat (the terminal belongs to the chat), and a file wherever
`--log-file` says. A file rotates at midnight and keeps `KEEP_DAYS` days, so the platform ids
that log lines carry are gone well within the retention period (README, Logs).

Every handler gets the secret filter, whatever the level, and the libraries' chatter (the
scheduler adding each job, the listener's access lines) stays below INFO.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ccin_bridge.handlers.config import ConfigError, Secrets
from ccin_bridge.log_redaction import install_secret_filter

KEEP_DAYS = 14
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Loggers that say at INFO what only matters when debugging.
CHATTY = ("apscheduler", "aiohttp.access", "httpx", "httpcore")
LogFormat = Literal["text", "json"]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what log collectors (Loki, CloudWatch, ...) parse without
    rules. Hand-written: the standard library does all of it but the `json.dumps`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure(
    level: str,
    *,
    to_file: Path | None = None,
    log_format: LogFormat = "text",
    secrets: Secrets | None = None,
) -> logging.Handler:
    """Send the root logger's records at `level` to `to_file` (rotating) or standard error."""
    handler: logging.Handler
    if to_file is None:
        handler = logging.StreamHandler(sys.stderr)
    else:
        try:
            to_file.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.TimedRotatingFileHandler(
                to_file, when="midnight", backupCount=KEEP_DAYS, encoding="utf-8"
            )
        except OSError as exc:  # a folder, a file in its path, a place it may not write
            raise ConfigError(
                f"--log-file {to_file}: cannot be written ({exc.strerror or exc})"
            ) from None
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    install_secret_filter(handler, secrets)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    quiet = logging.DEBUG if level == "DEBUG" else logging.WARNING
    for name in CHATTY:
        logging.getLogger(name).setLevel(quiet)
    return handler
