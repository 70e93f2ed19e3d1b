"""What the App Home tab and the modals use of the Slack adapter.

A protocol, so that home.py and modals.py need not import the adapter that builds them (they
would form an import circle with it): the adapter is one `SlackSession`, a test could be
another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from slack_sdk.web.async_client import AsyncWebClient

from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.events import Outgoing
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.replies import Reply


class SlackSession(Protocol):
    bridge: Bridge
    client: AsyncWebClient

    def track(self) -> None:
        """Count the current listener as work under way."""

    async def person(self, user_id: str, handle: str | None = None) -> UserRef:
        """The person behind a Slack user id, with the names we show back."""

    async def dm_chat(self, user_id: str) -> ChatRef:
        """The person's DM with the bot."""

    async def run(self, user: UserRef, chat: ChatRef, line: str) -> list[Reply]:
        """A command line run for `user` as if typed in `chat`."""

    async def payloads(self, replies: list[Reply]) -> dict[str, str]:
        """Each button's value for these replies."""

    async def deliver(self, replies: Sequence[Outgoing], *, user: UserRef, chat: ChatRef) -> None:
        """Send an outcome's replies where the core addressed them."""
