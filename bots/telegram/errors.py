"""Telegram's errors as the scheduler's delivery outcomes (see scheduler/outbound.py).

PTB raises `Forbidden` (403), `RetryAfter` (429, after the rate limiter's own retries),
`BadRequest` (400), `ChatMigrated` (a group became a supergroup) and `NetworkError` /
`TimedOut` (no answer). The outbox needs to know which of these is worth trying again, and
which may already have reached Telegram: a request that timed out or lost its connection
after it was sent may have been carried out, so it is `MaybeSent` (retried, reported as a
possible repeat); one that never connected was not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http import HTTPStatus

import httpx
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from ccin_bridge.scheduler.outbound import (
    Blocked,
    DeliveryError,
    MaybeSent,
    RetryLater,
    Undeliverable,
    labelled,
)

# Answers that mean "this person is not in the chat", which is what a removal wants anyway.
NOT_A_MEMBER = ("user_not_participant", "participant_id_invalid", "user not found")
# httpx failures that happen before the whole request is out: Telegram cannot have acted on it.
NEVER_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteTimeout,
    httpx.WriteError,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)
_STATUS = re.compile(r"\((\d{3})\)")
_PHRASES = {status.phrase.casefold(): status.value for status in HTTPStatus}


def seconds(value: timedelta | float) -> float:
    """`RetryAfter.retry_after` is a timedelta with PTB_TIMEDELTA set, else a number."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@contextmanager
def delivery_errors(*, forbidden: type[DeliveryError] = Blocked) -> Iterator[None]:
    """Re-raise Telegram's permanent and rate-limit errors as delivery outcomes.

    `forbidden` is what a 403 means here: for a message to a person, that they blocked the
    bot (or deleted their account); for a group admin action, that the bot lost its rights.
    `ChatMigrated` passes through for the caller to follow. A request that may have reached
    Telegram before failing becomes `MaybeSent`; other network errors and 5xx answers stay as
    they are, labelled with a short category: the outbox retries them with backoff.
    """
    try:
        yield
    except Forbidden as exc:
        raise forbidden(exc.message) from exc
    except RetryAfter as exc:
        raise RetryLater(seconds(exc.retry_after), "Telegram flood control") from exc
    except BadRequest as exc:  # chat not found, message refused, ...: retrying cannot help
        raise Undeliverable(exc.message) from exc
    except TimedOut as exc:
        if not isinstance(exc.__cause__, NEVER_SENT):  # a read timeout: the request was out
            raise MaybeSent("timed out waiting for Telegram's answer") from exc
        labelled(exc, "timed out connecting to Telegram")
        raise
    except NetworkError as exc:
        cause = exc.__cause__
        if cause is None or isinstance(cause, TelegramError):  # an error status from Telegram
            labelled(exc, platform_error(exc.message))
        elif isinstance(cause, NEVER_SENT):
            labelled(exc, "network error")
        elif isinstance(cause, httpx.HTTPError):  # the connection went while awaiting the answer
            raise MaybeSent("connection lost before Telegram answered") from exc
        raise  # anything else in PTB's HTTP layer: transient, uncategorised
    except TelegramError as exc:
        if isinstance(exc.__cause__, ValueError):  # a success status, but an unreadable answer
            raise MaybeSent("Telegram's answer could not be read") from exc
        labelled(exc, platform_error(exc.message))
        raise  # ChatMigrated, for the caller to follow, among others


def platform_error(message: str) -> str:
    """'platform error 502' for an error answer, from PTB's message ("Bad Gateway",
    "Internal Server Error (500)", or Telegram's own description)."""
    found = _STATUS.search(message)
    code = int(found.group(1)) if found else _PHRASES.get(message.strip().casefold())
    return f"platform error {code}" if code else "platform error"


def is_not_a_member(error: BadRequest) -> bool:
    return any(marker in error.message.casefold() for marker in NOT_A_MEMBER)
