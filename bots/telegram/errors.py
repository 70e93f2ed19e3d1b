"""Telegram's errors as the scheduler's delivery outcomes (see scheduler/outbound.py).

PTB raises `Forbidden` (403), `RetryAfter` (429, after the rate limiter's own retries),
`BadRequest` (400), `ChatMigrated` (a group became a supergroup) and `NetworkError` /
`TimedOut` (no answer). The outbox needs to know which of these is worth trying again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from telegram.error import BadRequest, Forbidden, RetryAfter

from scheduler.outbound import Blocked, DeliveryError, RetryLater, Undeliverable

# Answers that mean "this person is not in the chat", which is what a removal wants anyway.
NOT_A_MEMBER = ("user_not_participant", "participant_id_invalid", "user not found")


def seconds(value: timedelta | float) -> float:
    """`RetryAfter.retry_after` is a timedelta with PTB_TIMEDELTA set, else a number."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@contextmanager
def delivery_errors(*, forbidden: type[DeliveryError] = Blocked) -> Iterator[None]:
    """Re-raise Telegram's permanent and rate-limit errors as delivery outcomes.

    `forbidden` is what a 403 means here: for a message to a person, that they blocked the
    bot (or deleted their account); for a group admin action, that the bot lost its rights.
    `ChatMigrated` passes through for the caller to follow, and network errors stay as they
    are: the outbox retries anything it does not recognise, with backoff.
    """
    try:
        yield
    except Forbidden as exc:
        raise forbidden(exc.message) from exc
    except RetryAfter as exc:
        raise RetryLater(seconds(exc.retry_after), "Telegram flood control") from exc
    except BadRequest as exc:  # chat not found, message refused, ...: retrying cannot help
        raise Undeliverable(exc.message) from exc


def is_not_a_member(error: BadRequest) -> bool:
    return any(marker in error.message.casefold() for marker in NOT_A_MEMBER)
