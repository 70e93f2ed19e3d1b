"""Slack's refusals as the outbox's verdicts: wait and retry, give up on a person, or on a chat.

slack-sdk has already retried connection errors and 429s (bots/slack/client.py) by the time an
error reaches here; what is left is either final or worth the outbox's own backoff.

Not every answer can be read. slack-sdk raises `SlackApiError` with an empty body for a
non-JSON answer (an HTML 500 from a proxy), and with aiohttp's own response object, not its
`SlackResponse`, for an `application/json` answer that is not JSON. So nothing here assumes
a readable body: such an answer has no error code, and it is transient, except that a
success status we could not read may mean Slack did what was asked (`MaybeSent`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError

from ccin_bridge.bots.slack.client import NEVER_REACHED
from ccin_bridge.scheduler.outbound import (
    Blocked,
    DeliveryError,
    MaybeSent,
    RetryLater,
    Undeliverable,
    labelled,
)

NEVER_REACHED_TYPES = tuple(NEVER_REACHED)
DEFAULT_RETRY_AFTER = 30.0  # seconds, when a 429 comes without a usable Retry-After
# The person is gone from the workspace: their identity stops receiving.
PERSON_GONE = frozenset({"account_inactive", "user_not_found", "user_disabled"})
# Nothing will change by trying again: the chat, the bot's place in it, or the message itself.
DEAD_ENDS = PERSON_GONE | {
    "not_in_channel",
    "channel_not_found",
    "is_archived",
    "cannot_dm_bot",
    "restricted_action",
    "restricted_action_read_only_channel",
    "restricted_action_non_threadable_channel",
    "team_access_not_granted",
    "messages_tab_disabled",
    "invalid_blocks",
    "msg_too_long",
    "no_text",
    "invalid_arguments",
    "cant_invite",
    "cant_kick_from_general",
    "cant_kick_self",
    "restricted_action_thread_only_channel",
    "ekm_access_denied",
}


def error_code(exc: SlackApiError) -> str:
    """Slack's `error` ("channel_not_found"), or "" when the answer carried none or could
    not be read. Never raises."""
    body = getattr(exc.response, "data", None)
    if isinstance(body, Mapping):
        return str(body.get("error") or "")
    return ""


def status_code(exc: SlackApiError) -> int | None:
    """The HTTP status of the answer (a `SlackResponse`'s, or aiohttp's own response's)."""
    for name in ("status_code", "status"):
        value = getattr(exc.response, name, None)
        if isinstance(value, int):
            return value
    return None


def readable(exc: SlackApiError) -> bool:
    """Whether the answer was a JSON object, as every Web API answer should be."""
    body = getattr(exc.response, "data", None)
    return isinstance(body, Mapping) and bool(body)


def error_summary(exc: SlackApiError) -> str:
    """A short account of a failed call for the log (not the answer's body)."""
    error = error_code(exc)
    if error:
        return error
    status = status_code(exc)
    return f"an unreadable answer (HTTP {status})" if status else "an unreadable answer"


def transport_verdict(exc: BaseException) -> DeliveryError | None:
    """A failure below Slack's API (aiohttp's): None if the request never reached Slack (it
    is retried as it is), `MaybeSent` if Slack may have acted on it before the answer was
    lost."""
    if isinstance(exc, NEVER_REACHED_TYPES):
        return None
    if isinstance(exc, TimeoutError | aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return MaybeSent("timed out waiting for Slack's answer")
    if isinstance(exc, aiohttp.ClientOSError):
        return MaybeSent("the connection to Slack was lost while sending")
    return None


def retry_after(headers: Mapping[str, Any]) -> float:
    for name, value in headers.items():
        if name.casefold() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                break
    return DEFAULT_RETRY_AFTER


def verdict(exc: SlackApiError, *, about_person: bool) -> DeliveryError | None:
    """The outbox's verdict on a Slack error, or None for a transient one (retried later, and
    labelled with a short category for the outbox's records). Never raises.

    `about_person`: the call went to one person (their DM, inviting or removing them), so an
    account that is gone means Blocked rather than a dead chat.
    """
    status = status_code(exc)
    if status == 429:
        headers = getattr(exc.response, "headers", None)
        return RetryLater(
            retry_after(headers if isinstance(headers, Mapping) else {}), "Slack rate limit"
        )
    error = error_code(exc)
    if about_person and error in PERSON_GONE:
        return Blocked(f"Slack: {error}")
    if error in DEAD_ENDS:
        return Undeliverable(f"Slack: {error}")
    if status == 200 and not readable(exc):
        # HTTP 200 is Slack saying it did it; the body that would confirm it was garbled.
        return MaybeSent("Slack's answer could not be read")
    if error:
        labelled(exc, f"Slack: {error}")
    else:
        labelled(exc, f"platform error {status}" if status else "platform error")
    return None
