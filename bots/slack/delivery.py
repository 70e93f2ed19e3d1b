"""Where rendered messages go: back along a response_url, into a channel, or to one person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from ccin_bridge.bots.slack.render import SlackMessage
from ccin_bridge.handlers.replies import Attachment


class DeliveryError(Exception):
    """Slack did not take a message (an HTTP error on a response_url)."""


class Destination(Protocol):
    async def post(self, message: SlackMessage) -> None: ...


@dataclass(frozen=True)
class ResponseUrl:
    """Answers to a slash command or a button: visible only to the person who asked.

    Ephemeral always: the command may come from a DM between two people, where anything else
    would show the other person the answer (which may hold personal data).
    """

    respond: AsyncRespond

    async def post(self, message: SlackMessage) -> None:
        response = await self.respond(
            text=message.text,
            blocks=list(message.blocks),
            response_type="ephemeral",
            replace_original=False,
            unfurl_links=False,
            unfurl_media=False,
        )
        if response.status_code != 200:
            raise DeliveryError(f"response_url answered HTTP {response.status_code}")


MAX_FOLLOW_UPS = 5  # Slack takes 5 posts to one response_url (within 30 minutes)


class FollowUps:
    """The answers to one slash command or button along its response_url, within Slack's
    five posts; a longer answer keeps the fifth post for a note and goes on in `overflow`
    (the person's DM: what was private to them in the channel stays private)."""

    def __init__(self, respond: AsyncRespond, overflow: Destination, note: SlackMessage) -> None:
        self.here = ResponseUrl(respond)
        self.overflow = overflow
        self.note = note
        self._used = 0
        self._held: SlackMessage | None = None
        self._overflowing = False

    async def post(self, message: SlackMessage) -> None:
        if self._overflowing:
            await self.overflow.post(message)
        elif self._used < MAX_FOLLOW_UPS - 1:
            self._used += 1
            await self.here.post(message)
        elif self._held is None:
            self._held = message  # the fifth: sent here only if nothing follows it
        else:
            self._overflowing = True
            self._used += 1
            await self.here.post(self.note)
            held, self._held = self._held, None
            await self.overflow.post(held)
            await self.overflow.post(message)

    async def flush(self) -> None:
        """Send the fifth message held back, once it is known to be the last."""
        held, self._held = self._held, None
        if held is not None:
            self._used += 1
            await self.here.post(held)


@dataclass(frozen=True)
class Channel:
    """An ordinary message that everyone in the channel (or the DM) sees."""

    client: AsyncWebClient
    channel: str
    thread_ts: str | None = None

    async def post(self, message: SlackMessage) -> None:
        await self.client.chat_postMessage(
            channel=self.channel,
            text=message.text,
            blocks=list(message.blocks),
            thread_ts=self.thread_ts,
            unfurl_links=False,
            unfurl_media=False,
        )


@dataclass(frozen=True)
class Ephemeral:
    """A message in a channel that only `user` sees (private replies asked for in a channel)."""

    client: AsyncWebClient
    channel: str
    user: str
    thread_ts: str | None = None

    async def post(self, message: SlackMessage) -> None:
        await self.client.chat_postEphemeral(
            channel=self.channel,
            user=self.user,
            text=message.text,
            blocks=list(message.blocks),
            thread_ts=self.thread_ts,
        )


@dataclass(frozen=True)
class DirectMessage:
    """The person's DM with the bot, for answers that have no channel to go to."""

    client: AsyncWebClient
    user: str

    async def post(self, message: SlackMessage) -> None:
        await Channel(self.client, await open_dm(self.client, self.user)).post(message)


async def open_dm(client: AsyncWebClient, user_id: str) -> str:
    """The id of the bot's DM with a person (Slack opens it if needed)."""
    response = await client.conversations_open(users=user_id)
    channel = response.get("channel")
    if not isinstance(channel, dict) or not isinstance(channel.get("id"), str):
        raise DeliveryError("conversations.open answered without a channel id")
    return str(channel["id"])


async def upload(client: AsyncWebClient, channel: str, attachment: Attachment) -> None:
    await client.files_upload_v2(
        channel=channel,
        filename=attachment.filename,
        title=attachment.filename,
        content=attachment.content,
    )
