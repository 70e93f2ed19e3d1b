"""Slack's refusals as the outbox's verdicts: wait and retry, give up on a person, or on a chat.

slack-sdk has already retried connection errors and 429s (bots/slack/client.py) by the time an
error reaches here; what is left is either final or worth the outbox's own backoff.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError

from scheduler.outbound import Blocked, DeliveryError, RetryLater, Undeliverable

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
    return str(exc.response.get("error") or "")


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
    """The outbox's verdict on a Slack error, or None for a transient one (retried later).

    `about_person`: the call went to one person (their DM, inviting or removing them), so an
    account that is gone means Blocked rather than a dead chat.
    """
    if exc.response.status_code == 429:
        return RetryLater(retry_after(exc.response.headers), "Slack rate limit")
    error = error_code(exc)
    if about_person and error in PERSON_GONE:
        return Blocked(f"Slack: {error}")
    if error in DEAD_ENDS:
        return Undeliverable(f"Slack: {error}")
    return None
