"""Relaying on Slack: a channel message (its `rich_text` blocks, else its mrkdwn text) as
neutral spans, and relayed copies posted, edited and deleted as the outbox's `Relayer`.

A message's id is its `ts`, with `@` and its thread's `ts` when it is a reply in a thread
(`1790000000.000002@1790000000.000001`), so a copy answering it joins that thread. Copies are
posted under the author's name (`username`, which needs the `chat:write.customize` scope).
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiolimiter import AsyncLimiter
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.relay_order import Copy
from ccin_bridge.handlers.replies import Block, Reply, Span
from ccin_bridge.scheduler.outbound import Undeliverable

Names = Callable[[str], Awaitable[str]]  # a user id -> the name to show for a mention

# <https://example.org|label>, <@U123>, <#C123|name>, <!here>
_TOKEN = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
USERNAME_LIMIT = 80
PER_CHANNEL = 1.0  # messages a second: Slack's limit for posting in one channel
_GONE = {"message_not_found"}
# Final for this copy: trying again would only hold up the channel's later copies.
_CANNOT = {"cant_update_message", "cant_delete_message", "edit_window_closed"}


def message_id(ts: str, thread_ts: str | None) -> str:
    return f"{ts}@{thread_ts}" if thread_ts and thread_ts != ts else ts


def ts_of(message: str) -> str:
    return message.partition("@")[0]


def thread_of(message: str) -> str:
    """The thread a reply to this message goes in: its own thread, or itself as the root."""
    ts, _, root = message.partition("@")
    return root or ts


async def spans(message: dict[str, Any], names: Names) -> list[Span]:
    """The message's text as styled spans: from its `rich_text` blocks where it has them (what
    Slack's clients send), else from its mrkdwn `text`."""
    found: list[Span] = []
    for block in message.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "rich_text":
            await _rich(block.get("elements") or [], found, names)
    if found:
        return found
    return await _mrkdwn(str(message.get("text") or ""), names)


async def _rich(elements: list[Any], out: list[Span], names: Names) -> None:
    for element in elements:
        if not isinstance(element, dict):
            continue
        kind = element.get("type")
        if kind == "rich_text_list":
            for item in element.get("elements") or []:
                _newline(out)
                out.append(Span("• "))
                await _rich([item], out, names)
            _newline(out)
        elif kind in ("rich_text_section", "rich_text_quote"):
            await _rich(element.get("elements") or [], out, names)
        elif kind == "rich_text_preformatted":
            _newline(out)
            for inner in element.get("elements") or []:
                if isinstance(inner, dict) and isinstance(inner.get("text"), str):
                    out.append(Span(inner["text"], code=True))
            _newline(out)
        elif kind == "text":
            style = element.get("style") or {}
            out.append(
                Span(
                    str(element.get("text") or ""),
                    bold=bool(style.get("bold")),
                    italic=bool(style.get("italic")),
                    code=bool(style.get("code")),
                )
            )
        elif kind == "link":
            url = str(element.get("url") or "")
            out.append(Span(str(element.get("text") or url), link=url or None))
        elif kind == "user":
            out.append(Span("@" + await names(str(element.get("user_id") or ""))))
        elif kind == "emoji":
            out.append(Span(_emoji(element)))
        elif kind == "channel":
            out.append(Span("#channel"))
        elif kind == "broadcast":
            out.append(Span("@" + str(element.get("range") or "here")))


def _emoji(element: dict[str, Any]) -> str:
    try:
        return "".join(chr(int(code, 16)) for code in str(element["unicode"]).split("-"))
    except (KeyError, ValueError, OverflowError):
        return f":{element.get('name', '')}:"


def _newline(out: list[Span]) -> None:
    if out and not out[-1].text.endswith("\n"):
        out.append(Span("\n"))


async def _mrkdwn(text: str, names: Names) -> list[Span]:
    """Plain mrkdwn as Slack sends it: `& < >` escaped, links and mentions in `<...>`."""
    out: list[Span] = []
    at = 0
    for token in _TOKEN.finditer(text):
        if token.start() > at:
            out.append(Span(html.unescape(text[at : token.start()])))
        target, label = token.group(1), token.group(2)
        if target.startswith("@"):
            out.append(Span("@" + (label or await names(target[1:]))))
        elif target.startswith(("#", "!")):
            out.append(Span(html.unescape(label or target[1:])))
        else:
            url = html.unescape(target)
            out.append(Span(html.unescape(label or url), link=url))
        at = token.end()
    if at < len(text):
        out.append(Span(html.unescape(text[at:])))
    return out


def _verbatim(block: dict[str, Any]) -> dict[str, Any]:
    """Another platform's text as written: Slack must not turn "@channel" or "#general" in it
    into a notification or a link."""
    text = block.get("text")
    if block.get("type") == "section" and isinstance(text, dict) and text.get("type") == "mrkdwn":
        return {**block, "text": {**text, "verbatim": True}}
    return block


Render = Callable[[Reply], list[tuple[str, list[dict[str, Any]]]]]


class SlackRelayer:
    """Posts, edits and deletes relayed copies in Slack channels."""

    def __init__(
        self, client: AsyncWebClient, render: Render, per_second: float = PER_CHANNEL
    ) -> None:
        self.client = client
        self.render = render  # a reply as (fallback text, blocks), for one message
        self.per_second = per_second
        self._pace: dict[str, AsyncLimiter] = {}

    async def _paced(self, channel: str) -> None:
        """Wait for this channel's turn, so a burst keeps to Slack's limit rather than run
        into its 429s (which are waited out too, but later)."""
        limiter = self._pace.get(channel)
        if limiter is None:
            if len(self._pace) > 1000:  # bound channels are few; never grow without end
                self._pace.clear()
            limiter = self._pace[channel] = AsyncLimiter(1, 1 / self.per_second)
        await limiter.acquire()

    def _message(self, blocks: tuple[Block, ...]) -> tuple[str, list[dict[str, Any]]]:
        [(text, rendered), *_] = self.render(Reply(blocks)) or [("", [])]
        return text, [_verbatim(b) for b in rendered]

    async def post_copy(self, *, chat: ChatRef, copy: Copy, thread: str | None) -> str:
        text, blocks = self._message(copy.reply.blocks)
        root = thread_of(thread) if thread else None
        await self._paced(chat.chat_id)
        answer = await self.client.chat_postMessage(
            channel=chat.chat_id,
            text=text,
            blocks=blocks,
            thread_ts=root,
            username=copy.attribution[:USERNAME_LIMIT],
            unfurl_links=False,
            unfurl_media=False,
        )
        return message_id(str(answer["ts"]), root)

    async def edit_copy(self, *, chat: ChatRef, message_id: str, copy: Copy) -> None:
        text, blocks = self._message(copy.reply.blocks)
        await self._paced(chat.chat_id)
        try:
            await self.client.chat_update(
                channel=chat.chat_id, ts=ts_of(message_id), text=text, blocks=blocks
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in _GONE:
                return  # deleted meanwhile: nothing to edit
            if error in _CANNOT:
                raise Undeliverable(f"Slack: {error}") from exc
            raise

    async def delete_copy(self, *, chat: ChatRef, message_id: str) -> None:
        try:
            await self.client.chat_delete(channel=chat.chat_id, ts=ts_of(message_id))
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in _GONE:
                return
            if error in _CANNOT:
                raise Undeliverable(f"Slack: {error}") from exc
            raise
