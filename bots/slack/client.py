"""The Slack Web API client: our own base URL, and retries that honour Slack's rate limits."""

from __future__ import annotations

from aiohttp import ClientConnectorError, ConnectionTimeoutError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

DEFAULT_API_URL = "https://slack.com/api/"
RATE_LIMIT_RETRIES = 5  # each waits the Retry-After Slack asked for (plus up to 1 s)
CONNECTION_RETRIES = 2
# Retried here only what never reached Slack: no connection, or none within the timeout. A
# read timeout or a connection dropped after sending may follow a message Slack posted, so it
# goes to the outbox, which retries it flagged in doubt (bots/slack/errors.py).
NEVER_REACHED: list[type[Exception]] = [ClientConnectorError, ConnectionTimeoutError]


def api_base_url(api_url: str | None) -> str:
    # slack-sdk joins the method with urljoin, which drops a last path part without a slash.
    return (api_url or DEFAULT_API_URL).rstrip("/") + "/"


def build_client(token: str, api_url: str | None = None, timeout: int = 30) -> AsyncWebClient:
    # slack-sdk only retries connection errors by default; a 429 would reach us as an error.
    # 5xx answers are not retried: Slack may have posted the message before failing.
    handlers: list[AsyncRetryHandler] = [
        AsyncConnectionErrorRetryHandler(
            max_retry_count=CONNECTION_RETRIES, error_types=NEVER_REACHED
        ),
        AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
    ]
    return AsyncWebClient(
        token=token, base_url=api_base_url(api_url), timeout=timeout, retry_handlers=handlers
    )
