"""Channels as groups: the bot invites and removes people in the channels bound to groups.

This is the Slack side of `scheduler.outbound.ChatAdmin`; the queue that decides who goes in
or out is the scheduler's. Errors are the outbox's verdicts (bots/slack/errors.py).
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ccin_bridge.bots.slack.errors import error_code, verdict

MEMBERS_PAGE = 200  # Slack's recommended page size for conversations.members


class SlackChannels:
    platform = "slack"

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._bot_user_id: str | None = None

    async def admit(self, *, chat_id: str, user_id: str, label: str) -> str | None:
        """Slack adds people directly, so there is no link to send: None."""
        try:
            await self.client.conversations_invite(channel=chat_id, users=user_id)
        except SlackApiError as exc:
            if error_code(exc) != "already_in_channel":
                raise _translated(exc) from exc
        return None

    async def remove(self, *, chat_id: str, user_id: str) -> None:
        try:
            await self.client.conversations_kick(channel=chat_id, user=user_id)
        except SlackApiError as exc:
            if error_code(exc) != "not_in_channel":
                raise _translated(exc) from exc

    async def members(self, *, chat_id: str) -> set[str] | None:
        """Everyone in the channel but the bot itself, following Slack's cursor pages."""
        found: set[str] = set()
        cursor: str | None = None
        try:
            while True:
                page = await self.client.conversations_members(
                    channel=chat_id, limit=MEMBERS_PAGE, cursor=cursor
                )
                found.update(str(m) for m in page.get("members") or [])
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
        except SlackApiError as exc:
            raise _translated(exc) from exc
        found.discard(await self._bot())
        return found

    async def is_member(self, *, chat_id: str, user_id: str) -> bool | None:
        members = await self.members(chat_id=chat_id)
        return None if members is None else user_id in members

    async def _bot(self) -> str:
        if self._bot_user_id is None:
            self._bot_user_id = str((await self.client.auth_test()).get("user_id") or "")
        return self._bot_user_id


def _translated(exc: SlackApiError) -> Exception:
    return verdict(exc, about_person=True) or exc
