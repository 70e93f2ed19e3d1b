"""A fake Telegram Bot API server: the real wire format, on 127.0.0.1, for adapter tests.

`POST /bot<token>/<method>` with form-urlencoded, multipart or JSON bodies, answered with
`{"ok": true, "result": ...}` or an error whose HTTP status equals `error_code`, using
Telegram's own descriptions. `sendMessage` and `sendDocument` validate what Telegram
validates (HTML parse mode, length after entity parsing, keyboards), a little more strictly:
a bare `>` or `&` is refused, and length is counted in UTF-16 code units. Every call is recorded
with its status, so a test can assert that nothing was ever refused.

Group messages can be posted with entities and as replies (`push_group_post`) and edited
(`push_edit`); `editMessageText` and `deleteMessage` act on messages the chat holds (`edits`,
`deleted`), refusing what Telegram refuses (not found, not modified). Tests push updates
(`push_message`, `press`, `press_data`, `push_inline_query`,
`push_join_request`, `push_chat_member`, `push_my_chat_member`, `migrate`) that `getUpdates`
long-polls for, honouring `offset` (confirmed updates are forgotten) and `timeout`;
`new_update` builds one without queueing it, for POSTing to a webhook. They can make the next
calls answer 429 with `retry_after` (`rate_limit`), 403 for a person who blocked the bot
(`block`), or any other error (`fail`); or do what a call asks but answer it late (`slow`);
or keep the messages to one chat waiting until the test lets them through (`hold`).
Groups keep who is in them (`add_group`, `members`), so invite links, join requests, bans and
`getChatMember` behave as Telegram's do; `answerInlineQuery` and `setWebhook` check what
Telegram checks. Command lists are kept per scope (`commands`), and the bot's description and
short description per language (`descriptions`, `short_descriptions`), as get/setMy* see them.

Answers a test arranged on purpose (an injected fault, the redirect a migrated group answers
with) are marked `provoked`, so "the bot never sent anything Telegram refuses" can still be
asserted over every other call.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-fake-token"
BOT_ID = 123456
DATE = 1_795_000_000  # a fixed Unix time, so recorded answers are the same on every run
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_BUTTONS = 100
MAX_CALLBACK_DATA = 64
MAX_DESCRIPTION, MAX_SHORT_DESCRIPTION = 512, 120

# Form bodies carry strings raw and everything else JSON-encoded; the server decodes per field.
JSON_FIELDS = {
    "reply_markup",
    "allowed_updates",
    "link_preview_options",
    "commands",
    "scope",
    "entities",
    "caption_entities",
    "reply_parameters",
    "results",
    "button",
}
NUMBER_FIELDS = {
    "offset",
    "limit",
    "timeout",
    "message_id",
    "message_thread_id",
    "cache_time",
    "user_id",
    "expire_date",
    "member_limit",
    "until_date",
    "max_connections",
}
BOOL_FIELDS = {
    "drop_pending_updates",
    "show_alert",
    "disable_notification",
    "protect_content",
    "disable_content_type_detection",
    "is_personal",
    "creates_join_request",
    "only_if_banned",
    "revoke_messages",
}
MAX_INLINE_RESULTS = 50
MAX_INLINE_ID = 64  # bytes, for result ids and next_offset alike
MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")
IN_CHAT = {"creator", "administrator", "member", "restricted"}
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# The fields each ChatMember kind must carry; the fake's admin bot may do all but promote.
ADMIN_RIGHTS = (
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
    "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
    "can_delete_stories", "can_pin_messages",
)  # fmt: skip
RESTRICTED_RIGHTS = (
    "can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
    "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
    "can_send_other_messages", "can_add_web_page_previews", "can_change_info",
    "can_invite_users", "can_pin_messages", "can_manage_topics",
)  # fmt: skip
UPDATE_KINDS = (
    "message",
    "edited_message",
    "channel_post",
    "callback_query",
    "inline_query",
    "chat_join_request",
    "my_chat_member",
    "chat_member",
)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        description: str,
        parameters: dict[str, Any] | None = None,
        *,
        provoked: bool = False,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters
        self.provoked = provoked


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


# --- people and chats -----------------------------------------------------------------------


@dataclass(frozen=True)
class TgUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        return data

    @property
    def private_chat(self) -> TgChat:
        return TgChat(self.id, "private", first_name=self.first_name, username=self.username)


@dataclass(frozen=True)
class TgChat:
    id: int
    type: str  # private, group, supergroup, channel
    title: str | None = None
    first_name: str | None = None
    username: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "first_name", "username"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


# --- what was called, and what the bot sent -------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    status: int
    description: str = ""
    provoked: bool = False  # the test arranged this answer (see the module docstring)


@dataclass(frozen=True)
class InlineAnswer:
    query_id: str
    results: list[dict[str, Any]]
    next_offset: str
    cache_time: int | None
    is_personal: bool | None

    @property
    def ids(self) -> list[str]:
        return [str(r["id"]) for r in self.results]


@dataclass(frozen=True)
class InviteLink:
    chat_id: int
    raw: dict[str, Any]  # the ChatInviteLink object the server answered with

    @property
    def url(self) -> str:
        return str(self.raw["invite_link"])


@dataclass(frozen=True)
class Document:
    filename: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class SentMessage:
    chat_id: int
    message_id: int
    html: str  # as sent
    text: str  # as people see it, after entity parsing
    reply_markup: dict[str, Any] | None
    document: Document | None
    raw: dict[str, Any]  # the Message object the server answered with

    @property
    def buttons(self) -> list[dict[str, Any]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    def button(self, label: str) -> dict[str, Any]:
        for button in self.buttons:
            if button["text"] == label:
                return button
        raise AssertionError(f"no button {label!r} in {[b['text'] for b in self.buttons]}")


@dataclass
class _Fault:
    method: str
    status: int
    description: str
    parameters: dict[str, Any] | None
    remaining: int


@dataclass
class _Slowness:
    method: str
    seconds: float
    remaining: int


# --- Telegram's HTML parse mode -------------------------------------------------------------

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)\s*>")
_ATTR = re.compile(r"\s*([a-zA-Z-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]+))")
_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# tag -> (required attributes, optional attributes)
TAGS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    **{
        name: (frozenset(), frozenset())
        for name in ("b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler")
    },
    "span": (frozenset({"class"}), frozenset()),
    "a": (frozenset({"href"}), frozenset()),
    "code": (frozenset(), frozenset({"class"})),
    "pre": (frozenset(), frozenset()),
    "blockquote": (frozenset(), frozenset({"expandable"})),
    "tg-emoji": (frozenset({"emoji-id"}), frozenset()),
}
ALIASES = {"strong": "b", "em": "i", "ins": "u", "strike": "s", "del": "s", "span": "tg-spoiler"}
MONOSPACE = {"code", "pre"}


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(markup: str) -> str:
    """The visible text of Telegram-HTML `markup`, or ApiError as Telegram would answer."""
    out: list[str] = []
    stack: list[str] = []
    index = 0

    def fail(detail: str) -> ApiError:
        offset = len(markup[:index].encode())
        return bad_request(f"can't parse entities: {detail} at byte offset {offset}")

    while index < len(markup):
        char = markup[index]
        if char == "<":
            match = _TAG.match(markup, index)
            if match is None:
                raise fail("Unclosed start tag or unsupported character '<'")
            closing, name, attrs = match.group(1), match.group(2).lower(), match.group(3)
            if closing:
                if not stack:
                    raise fail(f'Unexpected end tag "{name}"')
                if stack[-1] != name:
                    raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
                stack.pop()
            else:
                _check_start_tag(name, attrs, stack, fail)
                stack.append(name)
            index = match.end()
        elif char == "&":
            entity = _ENTITY.match(markup, index)
            if entity is None:
                raise fail("Character '&' must be escaped as &amp;")
            out.append(_decode_entity(entity, fail))
            index = entity.end()
        elif char == ">":
            raise fail("Character '>' must be escaped as &gt;")
        else:
            out.append(char)
            index += 1
    if stack:
        raise bad_request(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\""
        )
    return "".join(out)


def _check_start_tag(
    name: str, attrs: str, stack: list[str], fail: Callable[[str], ApiError]
) -> None:
    if name not in TAGS:
        raise fail(f'Unsupported start tag "{name}"')
    found: dict[str, str] = {}
    rest = attrs
    while rest.strip():
        attr = _ATTR.match(rest)
        if attr is None:
            raise fail(f'Can\'t parse attributes of tag "{name}"')
        value = next(v for v in attr.groups()[1:] if v is not None)
        found[attr.group(1).lower()] = _decode_text(value, fail)
        rest = rest[attr.end() :]
    required, optional = TAGS[name]
    if missing := required - found.keys():
        raise fail(f'Tag "{name}" must have attribute "{sorted(missing)[0]}"')
    if extra := found.keys() - required - optional:
        raise fail(f'Tag "{name}" has unsupported attribute "{sorted(extra)[0]}"')
    if name == "a" and not found["href"].strip():
        raise fail("Empty URL in a tag")
    if name == "span" and found["class"] != "tg-spoiler":
        raise fail('Tag "span" must have class "tg-spoiler"')
    # Entities may nest, but nothing goes inside code or pre (except code in pre), links
    # do not contain links, and a blockquote is never nested.
    open_tags = {ALIASES.get(t, t) for t in stack}
    if open_tags & MONOSPACE and not (name == "code" and stack[-1] == "pre"):
        raise fail(f'Entity "{name}" can\'t be inside a monospace entity')
    if name == "a" and "a" in open_tags:
        raise fail("Nested links are not supported")
    if name == "blockquote" and "blockquote" in open_tags:
        raise fail("Nested blockquotes are not supported")


def _decode_text(value: str, fail: Callable[[str], ApiError]) -> str:
    if "<" in value or ">" in value:
        raise fail("Unescaped '<' or '>' in an attribute value")
    out: list[str] = []
    index = 0
    while index < len(value):
        if value[index] == "&":
            entity = _ENTITY.match(value, index)
            if entity is None:
                raise fail("Character '&' must be escaped as &amp;")
            out.append(_decode_entity(entity, fail))
            index = entity.end()
        else:
            out.append(value[index])
            index += 1
    return "".join(out)


def _decode_entity(entity: re.Match[str], fail: Callable[[str], ApiError]) -> str:
    decimal, hexadecimal, named = entity.groups()
    if named is not None:
        if named not in NAMED_ENTITIES:
            raise fail(f'Unsupported HTML entity "&{named};"')
        return NAMED_ENTITIES[named]
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise fail("Invalid character code in an HTML entity")
    return chr(code)


# --- the server -----------------------------------------------------------------------------


class FakeTelegramAPI:
    """Start with `async with FakeTelegramAPI() as api:`; point PTB at `api.base_url`."""

    def __init__(self, token: str = TOKEN, bot_username: str = "ccin_test_bot") -> None:
        self.token = token
        self.bot = {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "CCIN Test Bot",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
        }
        self.calls: list[Call] = []
        self.sent: list[SentMessage] = []
        # scope type (with ":<chat id>" for a chat's own list) -> commands
        self.commands: dict[str, list[dict[str, Any]]] = {}
        # language code ("" for everyone) -> the bot's description / short description
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.chats: dict[int, TgChat] = {}
        self.blocked: set[int] = set()
        self.users: dict[int, TgUser] = {}  # everyone an update has come from
        self.members: dict[int, dict[int, str]] = {}  # group id -> user id -> status
        self.join_requests: set[tuple[int, int]] = set()  # (chat id, user id), not yet decided
        self.invite_links: list[InviteLink] = []
        self.inline_answers: list[InlineAnswer] = []
        self.webhook: dict[str, Any] | None = None  # what setWebhook set, until deleteWebhook
        self.migrated: dict[int, int] = {}  # old group id -> its supergroup's id
        self.posted: set[tuple[int, int]] = set()  # (chat id, message id) of every message
        self.deleted: list[tuple[int, int]] = []  # (chat id, message id) the bot deleted
        self.edits: list[SentMessage] = []  # each editMessageText, as the message became
        self._request_dms: set[int] = set()  # people with a join request the bot may DM
        self._open_inline: set[str] = set()
        self._faults: list[_Fault] = []
        self._slow: list[_Slowness] = []
        self._held: dict[Any, asyncio.Event] = {}  # chat id -> let through when set
        self.waiting: list[Any] = []  # the chat ids of messages being held
        self._updates: list[dict[str, Any]] = []
        self._allowed: list[str] = []
        self._confirmed = 0  # every update with a smaller id was confirmed by an offset
        self._open_callbacks: set[str] = set()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._inline_ids = itertools.count(1)
        self._link_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))  # a free port chosen by the OS
            self.port = sock.getsockname()[1]
            await web.SockSite(self._runner, sock).start()
        except BaseException:
            sock.close()
            await self.close()
            raise

    async def close(self) -> None:
        self._closing = True  # wakes every long poll, so shutdown does not wait for them
        await self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramAPI:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # --- what tests do ---------------------------------------------------------------------

    def add_chat(self, chat: TgChat) -> None:
        """A chat the bot may write to (pushing an update from a chat adds it too)."""
        self.chats[chat.id] = chat

    def block(self, user_id: int) -> None:
        self.blocked.add(user_id)

    def add_group(self, chat: TgChat, members: dict[int, str] | None = None) -> None:
        """A group the bot administers (it may invite, approve and ban), with its members."""
        self.add_chat(chat)
        self.members.setdefault(chat.id, {})[BOT_ID] = "administrator"
        self.members[chat.id].update(members or {})

    def status_of(self, chat_id: int, user_id: int) -> str:
        return self.members.get(chat_id, {}).get(user_id, "left")

    def rate_limit(self, times: int, *, retry_after: int = 1, method: str = "sendMessage") -> None:
        """The next `times` calls of `method` answer 429 Too Many Requests."""
        self.fail(
            method,
            429,
            f"Too Many Requests: retry after {retry_after}",
            times=times,
            parameters={"retry_after": retry_after},
        )

    def fail(
        self,
        method: str,
        status: int,
        description: str,
        *,
        times: int = 1,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        self._faults.append(_Fault(method, status, description, parameters, times))

    def slow(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` calls of `method` are carried out (and recorded) at once, but
        answered only after `seconds`: a client that gives up first never hears that
        Telegram did what it asked, as when the platform is slow."""
        self._slow.append(_Slowness(method, seconds, times))

    def hold(self, chat_id: int) -> None:
        """Messages to this chat wait, unanswered and not yet recorded, until `let_through`:
        a platform still busy with them, for exactly as long as a test needs."""
        self._held.setdefault(chat_id, asyncio.Event())

    def let_through(self, chat_id: int) -> None:
        held = self._held.pop(chat_id, None)
        if held is not None:
            held.set()

    def new_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """An update with the next id, not queued (for POSTing to a webhook)."""
        return {"update_id": next(self._update_ids), kind: payload}

    async def push(self, kind: str, payload: dict[str, Any]) -> int:
        update = self.new_update(kind, payload)
        self._updates.append(update)
        await self._notify()
        return int(update["update_id"])

    def message(self, user: TgUser, text: str, chat: TgChat | None = None) -> dict[str, Any]:
        """The Message object of `user` writing `text` in `chat` (default: their DM)."""
        chat = chat or user.private_chat
        self.add_chat(chat)
        self.users[user.id] = user
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": DATE,
            "chat": chat.to_dict(),
            "from": user.to_dict(),
            "text": text,
        }
        self.posted.add((chat.id, message["message_id"]))
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_length(command)}
            ]
        return message

    async def push_group_post(
        self,
        user: TgUser,
        text: str,
        chat: TgChat,
        *,
        entities: list[dict[str, Any]] | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """`user` posts `text` in a group, with its entities (bold, links ...; offsets in
        UTF-16 code units, as Telegram counts them) and maybe as a reply to another message
        (the Message object replied to). Returns the message as Telegram sent it."""
        message = self.message(user, text, chat)
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        await self.push("message", message)
        return message

    async def push_edit(
        self, message: dict[str, Any], text: str, entities: list[dict[str, Any]] | None = None
    ) -> int:
        """The author edits a message they posted: Telegram sends an `edited_message`."""
        edited = {**message, "text": text, "edit_date": DATE + 60}
        edited.pop("entities", None)
        if entities:
            edited["entities"] = entities
        return await self.push("edited_message", edited)

    async def push_message(self, user: TgUser, text: str, chat: TgChat | None = None) -> int:
        """`user` writes `text` in `chat` (default: their private chat with the bot)."""
        return await self.push("message", self.message(user, text, chat))

    async def press(self, user: TgUser, message: SentMessage, label: str) -> int:
        """`user` presses the button labelled `label` under a message the bot sent."""
        data = message.button(label)["callback_data"]
        query_id = str(next(self._callback_ids))
        self._open_callbacks.add(query_id)
        query = {
            "id": query_id,
            "from": user.to_dict(),
            "chat_instance": f"instance-{message.chat_id}",
            "message": message.raw,
            "data": data,
        }
        return await self.push("callback_query", query)

    async def press_data(self, user: TgUser, message: SentMessage, data: str) -> int:
        """`user` presses a button under `message` whose callback data is `data`, whatever
        the bot put there: a forged or garbled press, as a modified client could send."""
        query_id = str(next(self._callback_ids))
        self._open_callbacks.add(query_id)
        query = {
            "id": query_id,
            "from": user.to_dict(),
            "chat_instance": f"instance-{message.chat_id}",
            "message": message.raw,
            "data": data,
        }
        return await self.push("callback_query", query)

    async def push_inline_query(self, user: TgUser, query: str, offset: str = "") -> str:
        """`user` types `@bot query` in some chat; returns the inline query's id."""
        self.users[user.id] = user
        query_id = f"inline-{next(self._inline_ids)}"
        self._open_inline.add(query_id)
        payload = {
            "id": query_id,
            "from": user.to_dict(),
            "query": query,
            "offset": offset,
            "chat_type": "sender",
        }
        await self.push("inline_query", payload)
        return query_id

    async def push_join_request(
        self, user: TgUser, chat: TgChat, invite_link: InviteLink | None = None
    ) -> int:
        """`user` asks to join `chat` (through `invite_link` if given). Until the request is
        decided, the bot may message them even if they never started it (`user_chat_id`)."""
        self.users[user.id] = user
        self.add_chat(chat)
        self.join_requests.add((chat.id, user.id))
        self._request_dms.add(user.id)
        payload: dict[str, Any] = {
            "chat": chat.to_dict(),
            "from": user.to_dict(),
            "user_chat_id": user.id,
            "date": DATE,
        }
        if invite_link is not None:
            payload["invite_link"] = invite_link.raw
        return await self.push("chat_join_request", payload)

    async def push_chat_member(
        self, chat: TgChat, user: TgUser, new: str, *, by: TgUser | None = None
    ) -> int:
        """`user`'s status in `chat` changes to `new` (joined: member; left; kicked)."""
        self.users[user.id] = user
        old = self.status_of(chat.id, user.id)
        self.members.setdefault(chat.id, {})[user.id] = new
        payload = {
            "chat": chat.to_dict(),
            "from": (by or user).to_dict(),
            "date": DATE,
            "old_chat_member": _chat_member(user.to_dict(), old),
            "new_chat_member": _chat_member(user.to_dict(), new),
        }
        return await self.push("chat_member", payload)

    async def push_my_chat_member(
        self, chat: TgChat, new: str, *, by: TgUser, old: str | None = None
    ) -> int:
        """The bot's own status in `chat` changes: added to or removed from a group, or (in a
        private chat) blocked (`kicked`) and unblocked (`member`) by the person."""
        self.users[by.id] = by
        self.add_chat(chat)
        if old is None:
            old = self.status_of(chat.id, BOT_ID) if chat.type != "private" else "member"
        if chat.type == "private":
            if new == "kicked":
                self.blocked.add(chat.id)
            else:
                self.blocked.discard(chat.id)
        else:
            self.members.setdefault(chat.id, {})[BOT_ID] = new
        payload = {
            "chat": chat.to_dict(),
            "from": by.to_dict(),
            "date": DATE,
            "old_chat_member": _chat_member(self.bot, old),
            "new_chat_member": _chat_member(self.bot, new),
        }
        return await self.push("my_chat_member", payload)

    async def migrate(self, group: TgChat, supergroup: TgChat, *, by: TgUser) -> int:
        """`group` is upgraded to `supergroup`: its id changes, and the old id answers every
        call with 400 and `migrate_to_chat_id`, as Telegram's does."""
        self.add_chat(supergroup)
        self.members[supergroup.id] = dict(self.members.pop(group.id, {}))
        self.migrated[group.id] = supergroup.id
        base = {"date": DATE, "from": by.to_dict()}
        old = {
            **base,
            "message_id": next(self._message_ids),
            "chat": group.to_dict(),
            "migrate_to_chat_id": supergroup.id,
        }
        new = {
            **base,
            "message_id": next(self._message_ids),
            "chat": supergroup.to_dict(),
            "migrate_from_chat_id": group.id,
        }
        await self.push("message", old)
        return await self.push("message", new)

    async def wait_confirmed(self, update_id: int, within: float = 5.0) -> None:
        """Until the bot has fetched `update_id` and asked for the updates after it."""
        await self.wait_for(lambda: self._confirmed > update_id, within)

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    # --- what tests check ------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def answers_with(self, status: int) -> list[Call]:
        return [c for c in self.calls if c.status == status]

    def refusals(self) -> list[Call]:
        """400 answers the test did not arrange: each is a call Telegram would refuse."""
        return [c for c in self.answers_with(400) if not c.provoked]

    def answer_to(self, query_id: str) -> InlineAnswer:
        [answer] = [a for a in self.inline_answers if a.query_id == query_id]
        return answer

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.sent if m.chat_id == chat_id]

    @property
    def open_callbacks(self) -> set[str]:
        """Button presses the bot has not answered yet."""
        return set(self._open_callbacks)

    # --- HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = {}
        try:
            params, files = await _read_params(request)
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            handler = self._methods().get(method)
            if handler is None:
                raise ApiError(404, "Not Found")
            chat_id = params.get("chat_id")
            held = self._held.get(chat_id) if method == "sendMessage" else None
            if held is not None:
                self.waiting.append(chat_id)
                await self._notify()
                await held.wait()
                self.waiting.remove(chat_id)
            self._inject_fault(method)
            result = await handler(params, files)
        except ApiError as exc:
            await self._record(Call(method, params, exc.status, exc.description, exc.provoked))
            body: dict[str, Any] = {
                "ok": False,
                "error_code": exc.status,
                "description": exc.description,
            }
            if exc.parameters:
                body["parameters"] = exc.parameters
            return web.json_response(body, status=exc.status)
        await self._record(Call(method, params, 200))
        await self._answer_slowly(method)
        return web.json_response({"ok": True, "result": result})

    def _methods(
        self,
    ) -> dict[str, Callable[[dict[str, Any], dict[str, Document]], Awaitable[Any]]]:
        return {
            "getMe": self._get_me,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "editMessageText": self._edit_message_text,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getMyDescription": self._get_my_description,
            "setMyDescription": self._set_my_description,
            "getMyShortDescription": self._get_my_short_description,
            "setMyShortDescription": self._set_my_short_description,
            "createChatInviteLink": self._create_chat_invite_link,
            "approveChatJoinRequest": self._approve_chat_join_request,
            "declineChatJoinRequest": self._decline_chat_join_request,
            "banChatMember": self._ban_chat_member,
            "unbanChatMember": self._unban_chat_member,
            "getChatMember": self._get_chat_member,
        }

    def _inject_fault(self, method: str) -> None:
        for fault in self._faults:
            if fault.method == method and fault.remaining > 0:
                fault.remaining -= 1
                raise ApiError(fault.status, fault.description, fault.parameters, provoked=True)

    async def _answer_slowly(self, method: str) -> None:
        for slowness in self._slow:
            if slowness.method == method and slowness.remaining > 0:
                slowness.remaining -= 1
                await asyncio.sleep(slowness.seconds)
                return

    async def _record(self, call: Call) -> None:
        self.calls.append(call)
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- methods ---------------------------------------------------------------------------

    async def _get_me(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        return self.bot

    async def _set_webhook(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        url = params.get("url")
        if not isinstance(url, str) or not url:
            raise bad_request("bad webhook: Webhook URL must be non-empty")
        if not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise bad_request("bad webhook: secret token contains unallowed characters")
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": params.get("allowed_updates"),
            "max_connections": params.get("max_connections"),
        }
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _delete_webhook(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_updates(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if offset > self._confirmed:
                self._confirmed = offset
                await self._notify()
        if params.get("allowed_updates") is not None:
            self._allowed = list(params["allowed_updates"])
        limit = int(params.get("limit") or 100)
        try:
            async with asyncio.timeout(float(params.get("timeout") or 0)), self._changed:
                await self._changed.wait_for(lambda: self._closing or bool(self._deliverable()))
        except TimeoutError:
            pass
        return self._deliverable()[:limit]

    def _deliverable(self) -> list[dict[str, Any]]:
        # Like Telegram, updates of a kind the bot did not ask for are dropped, not kept.
        allowed = set(self._allowed or UPDATE_KINDS)
        self._updates = [u for u in self._updates if _kind(u) in allowed]
        return list(self._updates)

    async def _send_message(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        chat = self._chat(params)
        html = params.get("text")
        if not isinstance(html, str):
            raise bad_request("message text is empty")
        text = _visible(html, params.get("parse_mode"))
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_length(text) > MAX_TEXT:
            raise bad_request("message is too long")
        markup = _check_markup(params.get("reply_markup"))
        if "link_preview_options" in params and not isinstance(
            params["link_preview_options"], dict
        ):
            raise bad_request("can't parse link preview options JSON object")
        extra: dict[str, Any] = {"text": text}
        replying = params.get("reply_parameters")
        if replying is not None:
            if not isinstance(replying, dict) or not isinstance(replying.get("message_id"), int):
                raise bad_request("can't parse reply parameters JSON object")
            if (chat.id, replying["message_id"]) in self.posted:
                extra["reply_to_message"] = {"message_id": replying["message_id"]}
            elif not replying.get("allow_sending_without_reply"):
                raise bad_request("message to be replied not found")
        return self._store(chat, html, text, markup, None, extra)

    async def _edit_message_text(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        chat = self._chat(params)
        found = [
            m
            for m in self.sent
            if m.chat_id == chat.id
            and m.message_id == params.get("message_id")
            and (chat.id, m.message_id) in self.posted
        ]
        if not found:
            raise bad_request("message to edit not found")
        html = params.get("text")
        if not isinstance(html, str) or not html.strip():
            raise bad_request("message text is empty")
        text = _visible(html, params.get("parse_mode"))
        if utf16_length(text) > MAX_TEXT:
            raise bad_request("message is too long")
        message = found[-1]
        if html == message.html:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        raw = {**message.raw, "text": text, "edit_date": DATE + 60}
        edited = SentMessage(chat.id, message.message_id, html, text, None, None, raw)
        self.sent[self.sent.index(message)] = edited
        self.edits.append(edited)
        return raw

    async def _delete_message(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        chat = self._chat(params)
        key = (chat.id, params.get("message_id"))
        if key not in self.posted:
            raise bad_request("message to delete not found")
        self.posted.discard(key)
        self.deleted.append(key)
        return True

    async def _send_document(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        chat = self._chat(params)
        document = files.get("document")
        if document is None:
            raise bad_request("there is no document in the request")
        caption = params.get("caption")
        text = _visible(caption, params.get("parse_mode")) if caption else ""
        if utf16_length(text) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        markup = _check_markup(params.get("reply_markup"))
        number = len(self.sent) + 1
        extra: dict[str, Any] = {
            "document": {
                "file_id": f"document-{number}",
                "file_unique_id": f"unique-{number}",
                "file_name": document.filename,
                "mime_type": document.content_type,
                "file_size": len(document.content),
            }
        }
        if text:
            extra["caption"] = text
        return self._store(chat, caption or "", text, markup, document, extra)

    async def _answer_callback_query(
        self, params: dict[str, Any], files: dict[str, Document]
    ) -> Any:
        query_id = params.get("callback_query_id")
        if query_id not in self._open_callbacks:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if utf16_length(str(params.get("text") or "")) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self._open_callbacks.discard(query_id)
        return True

    async def _set_my_commands(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            name = command.get("command") if isinstance(command, dict) else None
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise bad_request("command description must be non-empty")
        self.commands[self._scope_key(params)] = commands
        return True

    async def _delete_my_commands(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        self.commands.pop(self._scope_key(params), None)
        return True

    # The bot's profile texts: set per language code (none: everyone's), 0-512 and 0-120
    # characters (empty removes it); getMy* answer BotDescription / BotShortDescription, with
    # "" when none was set. The refusals' wording is the fake's own.
    async def _get_my_description(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        return {"description": self.descriptions.get(_language(params), "")}

    async def _set_my_description(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        self._set_text(self.descriptions, params, "description", MAX_DESCRIPTION)
        return True

    async def _get_my_short_description(
        self, params: dict[str, Any], files: dict[str, Document]
    ) -> Any:
        return {"short_description": self.short_descriptions.get(_language(params), "")}

    async def _set_my_short_description(
        self, params: dict[str, Any], files: dict[str, Document]
    ) -> Any:
        self._set_text(self.short_descriptions, params, "short_description", MAX_SHORT_DESCRIPTION)
        return True

    @staticmethod
    def _set_text(texts: dict[str, str], params: dict[str, Any], field: str, limit: int) -> None:
        value = params.get(field)
        if value is not None and not isinstance(value, str):
            raise bad_request(f"{field} must be a string")
        if value is not None and utf16_length(value) > limit:
            raise bad_request(f"{field.replace('_', ' ')} is too long")
        language = _language(params)
        if value:
            texts[language] = value
        else:
            texts.pop(language, None)

    def _scope_key(self, params: dict[str, Any]) -> str:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise bad_request("can't parse BotCommandScope JSON object")
        key = str(scope["type"])
        if key in ("chat", "chat_administrators", "chat_member"):
            key = f"{key}:{self._chat(scope).id}"  # the chat must exist, as on Telegram
        return key

    async def _answer_inline_query(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        query_id = params.get("inline_query_id")
        if query_id not in self._open_inline:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        results = params.get("results")
        if not isinstance(results, list):
            raise bad_request("can't parse inline query results JSON object")
        if len(results) > MAX_INLINE_RESULTS:
            raise bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            _check_inline_result(result, seen)
        next_offset = params.get("next_offset") or ""
        if len(str(next_offset).encode()) > MAX_INLINE_ID:
            raise bad_request("NEXT_OFFSET_INVALID")
        cache_time = params.get("cache_time")
        if cache_time is not None and (not isinstance(cache_time, int) or cache_time < 0):
            raise bad_request("cache_time must be a non-negative integer")
        self._open_inline.discard(query_id)
        self.inline_answers.append(
            InlineAnswer(
                str(query_id), results, str(next_offset), cache_time, params.get("is_personal")
            )
        )
        return True

    async def _create_chat_invite_link(
        self, params: dict[str, Any], files: dict[str, Document]
    ) -> Any:
        chat = self._group(params)
        name = params.get("name")
        if name is not None and len(str(name)) > 32:
            raise bad_request("invite link name is too long")
        if params.get("creates_join_request") and params.get("member_limit") is not None:
            raise bad_request(
                "member limit can't be specified for links requiring administrator approval"
            )
        expire = params.get("expire_date")
        if expire is not None and (not isinstance(expire, int) or expire <= time.time()):
            raise bad_request("EXPIRE_DATE_INVALID")
        number = next(self._link_ids)
        raw: dict[str, Any] = {
            "invite_link": f"https://t.me/+fakeInvite{number:04d}",
            "creator": self.bot,
            "creates_join_request": bool(params.get("creates_join_request")),
            "is_primary": False,
            "is_revoked": False,
        }
        for key in ("name", "expire_date", "member_limit"):
            if params.get(key) is not None:
                raw[key] = params[key]
        self.invite_links.append(InviteLink(chat.id, raw))
        return raw

    async def _approve_chat_join_request(
        self, params: dict[str, Any], files: dict[str, Document]
    ) -> Any:
        chat, user_id = self._decide(params)
        self.members.setdefault(chat.id, {})[user_id] = "member"
        return True

    async def _decline_chat_join_request(
        self, params: dict[str, Any], files: dict[str, Document]
    ) -> Any:
        self._decide(params)
        return True

    def _decide(self, params: dict[str, Any]) -> tuple[TgChat, int]:
        chat = self._group(params)
        user_id = self._user_id(params)
        if (chat.id, user_id) not in self.join_requests:
            raise bad_request("HIDE_REQUESTER_MISSING")
        self.join_requests.discard((chat.id, user_id))
        self._request_dms.discard(user_id)  # the DM window closes with the decision
        return chat, user_id

    async def _ban_chat_member(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        chat = self._group(params)
        user_id = self._user_id(params)
        if user_id == BOT_ID:
            raise bad_request("can't remove self")  # not how the bot leaves a chat
        status = self.status_of(chat.id, user_id)
        if status == "creator":
            raise bad_request("can't remove chat owner")
        if status == "administrator":
            raise bad_request("user is an administrator of the chat")
        self.members.setdefault(chat.id, {})[user_id] = "kicked"
        return True

    async def _unban_chat_member(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        chat = self._group(params)
        user_id = self._user_id(params)
        status = self.status_of(chat.id, user_id)
        if status == "kicked" or not params.get("only_if_banned"):
            # Without only_if_banned, Telegram's unban also removes a current member.
            if status in ("creator", "administrator"):
                raise bad_request("user is an administrator of the chat")
            self.members.setdefault(chat.id, {})[user_id] = "left"
        return True

    async def _get_chat_member(self, params: dict[str, Any], files: dict[str, Document]) -> Any:
        chat = self._group(params)
        user_id = self._user_id(params)
        user = self.bot if user_id == BOT_ID else self._user_dict(user_id)
        return _chat_member(user, self.status_of(chat.id, user_id))

    # --- helpers ---------------------------------------------------------------------------

    def _chat(self, params: dict[str, Any]) -> TgChat:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise bad_request("chat_id is empty")
        if not isinstance(chat_id, int):
            raise bad_request("chat not found")  # @usernames are for channels, not used here
        if chat_id in self.migrated:
            # A redirect rather than a refusal: PTB raises ChatMigrated with the new id.
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated[chat_id]},
                provoked=True,
            )
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.chats:
            return self.chats[chat_id]
        if chat_id in self._request_dms:
            return self.users[chat_id].private_chat
        if chat_id > 0:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        raise bad_request("chat not found")

    def _group(self, params: dict[str, Any]) -> TgChat:
        """A group or supergroup the bot administers (membership methods need that)."""
        chat = self._chat(params)
        if chat.type not in ("group", "supergroup"):
            raise bad_request("method is available for supergroup and group chats only")
        if self.status_of(chat.id, BOT_ID) != "administrator":
            raise bad_request("not enough rights to manage the chat's members")
        return chat

    def _user_id(self, params: dict[str, Any]) -> int:
        user_id = params.get("user_id")
        if not isinstance(user_id, int) or user_id <= 0:
            raise bad_request("PARTICIPANT_ID_INVALID")
        return user_id

    def _user_dict(self, user_id: int) -> dict[str, Any]:
        user = self.users.get(user_id)
        return user.to_dict() if user else {"id": user_id, "is_bot": False, "first_name": "User"}

    def _store(
        self,
        chat: TgChat,
        html: str,
        text: str,
        markup: dict[str, Any] | None,
        document: Document | None,
        extra: dict[str, Any],
    ) -> dict[str, Any]:
        message_id = next(self._message_ids)
        self.posted.add((chat.id, message_id))
        raw: dict[str, Any] = {
            "message_id": message_id,
            "date": DATE,
            "chat": chat.to_dict(),
            "from": self.bot,
            **extra,
        }
        if markup is not None:
            raw["reply_markup"] = markup
        self.sent.append(SentMessage(chat.id, message_id, html, text, markup, document, raw))
        return raw


def _chat_member(user: dict[str, Any], status: str) -> dict[str, Any]:
    """A ChatMember object with the fields its `status` requires."""
    if status not in MEMBER_STATUSES:
        raise ValueError(f"unknown chat member status {status!r}")
    member: dict[str, Any] = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(dict.fromkeys(ADMIN_RIGHTS, True), can_promote_members=False)
        member.update(can_be_edited=False, is_anonymous=False)
    elif status == "restricted":
        member.update(is_member=True, until_date=0)
        member.update(dict.fromkeys(RESTRICTED_RIGHTS, False))
    elif status == "kicked":
        member["until_date"] = 0
    return member


def _check_inline_result(result: Any, seen: set[str]) -> None:
    """What Telegram checks in one InlineQueryResultArticle (the only type the bot sends)."""
    if not isinstance(result, dict) or result.get("type") != "article":
        raise bad_request("RESULT_TYPE_INVALID")
    result_id = result.get("id")
    if not isinstance(result_id, str) or not 1 <= len(result_id.encode()) <= MAX_INLINE_ID:
        raise bad_request("RESULT_ID_INVALID")
    if result_id in seen:
        raise bad_request("RESULT_ID_DUPLICATE")
    seen.add(result_id)
    if not str(result.get("title") or "").strip():
        raise bad_request("RESULT_TITLE_EMPTY")
    content = result.get("input_message_content")
    if not isinstance(content, dict) or not isinstance(content.get("message_text"), str):
        raise bad_request("MESSAGE_EMPTY")
    text = _visible(content["message_text"], content.get("parse_mode"))
    if not text.strip():
        raise bad_request("MESSAGE_EMPTY")
    if utf16_length(text) > MAX_TEXT:
        raise bad_request("MESSAGE_TOO_LONG")
    _check_markup(result.get("reply_markup"))
    url = result.get("url")
    if url is not None and not str(url).startswith(("http://", "https://")):
        raise bad_request("RESULT_URL_INVALID")


def _language(params: dict[str, Any]) -> str:
    """The language code a profile text is for ("": everyone without one of their own)."""
    return str(params.get("language_code") or "")


def _kind(update: dict[str, Any]) -> str:
    return next(k for k in update if k != "update_id")


def _visible(markup: str, parse_mode: Any) -> str:
    if parse_mode in (None, ""):
        return markup
    if str(parse_mode).upper() != "HTML":
        raise bad_request(f"this fake speaks parse_mode HTML only, not {parse_mode!r}")
    return parse_html(markup)


def _check_markup(markup: Any) -> dict[str, Any] | None:
    if markup is None:
        return None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse reply keyboard markup JSON object")
    buttons = [button for row in rows for button in row]
    if len(buttons) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    for button in buttons:
        if not isinstance(button, dict) or not str(button.get("text") or "").strip():
            raise bad_request("can't parse inline keyboard button: Text must be non-empty")
        actions = [k for k in ("callback_data", "url", "switch_inline_query") if k in button]
        if len(actions) != 1:
            raise bad_request("can't parse inline keyboard button: exactly one action needed")
        data = button.get("callback_data")
        if "callback_data" in button and not (
            isinstance(data, str) and 1 <= len(data.encode()) <= MAX_CALLBACK_DATA
        ):
            raise bad_request("BUTTON_DATA_INVALID")
        url = button.get("url")
        if "url" in button and not (
            isinstance(url, str) and url.startswith(("http://", "https://", "tg://"))
        ):
            raise bad_request(f"inline keyboard button URL '{url}' is invalid")
    return dict(markup)


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Document]]:
    """Decode a Bot API body the way the real server does: JSON, form or multipart."""
    files: dict[str, Document] = {}
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise bad_request("request body must be a JSON object")
        return {k: _normalise(k, v) for k, v in body.items()}, files
    params: dict[str, Any] = {}
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            with value.file:  # a temporary file: close it, or the GC warns
                content = value.file.read()
            files[key] = Document(
                value.filename, content, value.content_type or "application/octet-stream"
            )
            params[key] = f"<file {value.filename}>"
        else:
            params[key] = _decode_form_value(key, str(value))
    return params, files


def _decode_form_value(key: str, value: str) -> Any:
    if key in JSON_FIELDS:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise bad_request(f"can't parse {key} JSON object") from None
    if key in BOOL_FIELDS:
        if value not in ("true", "false"):
            raise bad_request(f"{key} must be true or false")
        return value == "true"
    return _normalise(key, value)


def _normalise(key: str, value: Any) -> Any:
    if key == "chat_id" and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    if key in NUMBER_FIELDS and isinstance(value, str):
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            raise bad_request(f"{key} must be a number") from None
    return value
