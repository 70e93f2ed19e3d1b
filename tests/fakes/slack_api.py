"""A local stand-in for the Slack Web API that answers, and refuses, the way Slack does.

`POST|GET /api/<method>` with a Bearer token (JSON, form or query arguments): auth.test,
chat.postMessage, chat.postEphemeral, chat.update, conversations.open/invite/kick/members,
users.info, views.publish/open/update, apps.connections.open (with the app-level token) and the
three steps of files_upload_v2. Errors are HTTP 200 `{"ok": false, "error": ...}`; a rate limit
is HTTP 429 with `Retry-After`. Messages and views are checked like Slack checks them (block
types and fields, 50 blocks per message and 100 per view, 3000-character sections,
75-character buttons, `& < >` escaped in mrkdwn, modal titles), so a renderer that breaks a
rule gets `invalid_blocks` or `msg_too_long` here, not in production.
`POST /respond/<key>` stands in for a slash command's or a button's response_url, and refuses
a sixth post to one URL as Slack does. `GET /socket` is a Socket Mode websocket: it says
`hello`, sends the envelopes a test gives it and records the acknowledgements.
`answer_raw` makes a method answer with a body that is not Slack's JSON, as a proxy might.
Channel messages are kept (`messages`): people's posts, edits and deletions come as the
`message` events Slack sends (`post_as`, `edit_as`, `delete_as`, with `rich_text` blocks),
and `chat.update` / `chat.delete` change only the bot's own messages, as for a bot token.
Every call is recorded; nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "xoxb-ccin-test-token"
APP_TOKEN = "xapp-1-ccin-test-app-token"
TEAM_ID = "T0CCIN"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_RESPONSES = 5  # posts to one response_url
MAX_TEXT = 40_000
BAD_MESSAGE_ERRORS = {"invalid_blocks", "msg_too_long", "invalid_arguments", "used_url"}

_CHANNEL = re.compile(r"^[CDG][A-Z0-9]{2,}$")
# What may follow `<` in mrkdwn: a link, a user, a channel or a special mention, then `>`.
_TOKEN = re.compile(
    r"^(?:(?:https?://|mailto:)[^\s|<>]+|@[UW][A-Z0-9]+|#C[A-Z0-9]+|![a-z]+(?:\^[A-Za-z0-9]+)?)"
    r"(?:\|[^<>]*)?$"
)
_BARE_AMPERSAND = re.compile(r"&(?!(?:amp|lt|gt);)")
_ALLOWED_KEYS = {
    "section": {"type", "block_id", "text", "fields", "accessory", "expand"},
    "header": {"type", "block_id", "text"},
    "actions": {"type", "block_id", "elements"},
    "context": {"type", "block_id", "elements"},
    "divider": {"type", "block_id"},
}
_INPUT_KEYS = {"type", "block_id", "label", "element", "hint", "optional", "dispatch_action"}
_ELEMENT_KEYS = {
    "plain_text_input": {
        "type",
        "action_id",
        "multiline",
        "max_length",
        "min_length",
        "placeholder",
        "initial_value",
        "focus_on_load",
    },
    "static_select": {"type", "action_id", "placeholder", "options", "initial_option"},
}
_VIEW_KEYS = {
    "type",
    "title",
    "blocks",
    "close",
    "submit",
    "private_metadata",
    "callback_id",
    "clear_on_close",
    "notify_on_close",
    "external_id",
}
_BUTTON_KEYS = {"type", "text", "action_id", "value", "url", "style", "confirm"}
_TEXT_KEYS = {"type", "text", "emoji", "verbatim"}


def slack_len(value: str) -> int:
    return len(value.encode("utf-16-le")) // 2


def mrkdwn_problems(text: str, where: str) -> list[str]:
    """Unescaped `& < >` in mrkdwn: a `<` must open a link or mention token, nothing else."""
    problems = []
    for match in re.finditer(r"<([^<>]*)>", text):
        body = match.group(1)
        if not _TOKEN.match(body):
            problems.append(f"unescaped '<' in {where}: {match.group(0)[:40]!r}")
        elif _BARE_AMPERSAND.search(body):
            problems.append(f"unescaped '&' in a link in {where}")
    outside = re.sub(r"<[^<>]*>", "", text)
    if "<" in outside or ">" in outside:
        problems.append(f"unescaped '<' or '>' in {where}")
    if _BARE_AMPERSAND.search(outside):
        problems.append(f"unescaped '&' in {where}")
    return problems


def _text_problems(obj: Any, where: str, limit: int, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where} must be a text object"]
    problems = [f"{where} has unknown field {k!r}" for k in obj.keys() - _TEXT_KEYS]
    kind, text = obj.get("type"), obj.get("text")
    if kind not in (("plain_text",) if plain_only else ("plain_text", "mrkdwn")):
        problems.append(f"{where}.type {kind!r} is not allowed")
    if not isinstance(text, str) or not text.strip():
        return [*problems, f"{where}.text must be a non-empty string"]
    if slack_len(text) > limit:
        problems.append(f"{where}.text must be at most {limit} characters")
    if kind == "mrkdwn":
        problems.extend(mrkdwn_problems(text, where))
    return problems


def block_problems(blocks: Any, limit: int = MAX_BLOCKS, in_view: bool = False) -> list[str]:
    """Why Slack would answer `invalid_blocks`, or [] if it would take them."""
    if not isinstance(blocks, list) or not blocks:
        return ["blocks must be a non-empty array"]
    problems = []
    if len(blocks) > limit:
        problems.append(f"no more than {limit} items allowed [json-pointer:/blocks]")
    action_ids: set[str] = set()
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"/blocks/{i}"
        kind = block.get("type") if isinstance(block, dict) else None
        if in_view and kind == "input":
            problems.extend(_input_problems(block, where))
        elif kind not in _ALLOWED_KEYS:
            problems.append(f"{where}: unsupported type {kind!r}")
            continue
        else:
            problems.extend(
                f"{where}: unknown field {k!r}" for k in block.keys() - _ALLOWED_KEYS[kind]
            )
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not 1 <= len(block_id) <= 255:
                problems.append(f"{where}/block_id must be 1 to 255 characters")
            elif block_id in block_ids:
                problems.append(f"{where}/block_id {block_id!r} is not unique")
            block_ids.add(str(block_id))
        if kind == "section":
            problems.extend(_text_problems(block.get("text"), f"{where}/text", 3000))
        elif kind == "header":
            problems.extend(_text_problems(block.get("text"), f"{where}/text", 150, True))
        elif kind == "actions":
            problems.extend(_actions_problems(block.get("elements"), where, action_ids))
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                problems.append(f"{where}/elements must have 1 to 10 items")
            else:
                for j, element in enumerate(elements):
                    problems.extend(_text_problems(element, f"{where}/elements/{j}", 3000))
    return problems


def _input_problems(block: dict[str, Any], where: str) -> list[str]:
    problems = [f"{where}: unknown field {k!r}" for k in block.keys() - _INPUT_KEYS]
    problems.extend(_text_problems(block.get("label"), f"{where}/label", 2000, True))
    element = block.get("element")
    kind = element.get("type") if isinstance(element, dict) else None
    if kind not in _ELEMENT_KEYS:
        return [*problems, f"{where}/element: unsupported type {kind!r}"]
    assert isinstance(element, dict)
    at = f"{where}/element"
    problems.extend(f"{at}: unknown field {k!r}" for k in element.keys() - _ELEMENT_KEYS[kind])
    if not isinstance(element.get("action_id"), str):
        problems.append(f"{at}/action_id must be a string")
    if "placeholder" in element:
        problems.extend(_text_problems(element["placeholder"], f"{at}/placeholder", 150, True))
    if kind == "plain_text_input":
        initial = element.get("initial_value")
        if initial is not None and len(str(initial)) > int(element.get("max_length", 3000)):
            problems.append(f"{at}/initial_value is longer than max_length")
    else:
        options = element.get("options")
        if not isinstance(options, list) or not 1 <= len(options) <= 100:
            return [*problems, f"{at}/options must have 1 to 100 items"]
        for j, option in enumerate(options):
            problems.extend(_option_problems(option, f"{at}/options/{j}"))
        if "initial_option" in element and element["initial_option"] not in options:
            problems.append(f"{at}/initial_option must be one of the options")
    return problems


def _option_problems(option: Any, where: str) -> list[str]:
    if not isinstance(option, dict) or option.keys() - {"text", "value", "description"}:
        return [f"{where} must be an option object"]
    problems = _text_problems(option.get("text"), f"{where}/text", 75, True)
    value = option.get("value")
    if not isinstance(value, str) or not 1 <= len(value) <= 150:
        problems.append(f"{where}/value must be 1 to 150 characters")
    return problems


def view_problems(view: Any, kind: str) -> list[str]:
    """Why Slack would refuse a Home tab or modal view (`invalid_arguments`), or []."""
    if not isinstance(view, dict):
        return ["view must be an object"]
    problems = [f"view: unknown field {k!r}" for k in view.keys() - _VIEW_KEYS]
    if view.get("type") != kind:
        problems.append(f"view.type must be {kind!r}")
    problems.extend(block_problems(view.get("blocks"), MAX_VIEW_BLOCKS, in_view=True))
    if len(str(view.get("private_metadata") or "")) > 3000:
        problems.append("view.private_metadata must be at most 3000 characters")
    if len(str(view.get("callback_id") or "")) > 255:
        problems.append("view.callback_id must be at most 255 characters")
    if kind == "modal":
        problems.extend(_text_problems(view.get("title"), "view/title", 24, True))
        for name in ("submit", "close"):
            if name in view:
                problems.extend(_text_problems(view[name], f"view/{name}", 24, True))
        has_input = any(b.get("type") == "input" for b in view.get("blocks") or [])
        if has_input and "submit" not in view:
            problems.append("a modal with input blocks needs a submit button")
    return problems


def _actions_problems(elements: Any, where: str, action_ids: set[str]) -> list[str]:
    if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
        return [f"{where}/elements must have 1 to 25 items"]
    problems = []
    for j, button in enumerate(elements):
        at = f"{where}/elements/{j}"
        if not isinstance(button, dict) or button.get("type") != "button":
            problems.append(f"{at}: only buttons are expected here")
            continue
        problems.extend(f"{at}: unknown field {k!r}" for k in button.keys() - _BUTTON_KEYS)
        problems.extend(_text_problems(button.get("text"), f"{at}/text", 75, True))
        action_id = button.get("action_id")
        if not isinstance(action_id, str) or not 1 <= len(action_id) <= 255:
            problems.append(f"{at}/action_id must be 1 to 255 characters")
        elif action_id in action_ids:
            problems.append(f"{at}/action_id {action_id!r} is not unique in the message")
        else:
            action_ids.add(action_id)
        value = button.get("value")
        if value is not None and (not isinstance(value, str) or len(value) > 2000):
            problems.append(f"{at}/value must be a string of at most 2000 characters")
    return problems


def message_error(args: dict[str, Any]) -> tuple[str, list[str]] | None:
    """The error Slack would answer for a message's `text` and `blocks`, with details."""
    text, blocks = args.get("text"), args.get("blocks")
    if blocks is not None:
        problems = block_problems(blocks)
        if problems:
            return "invalid_blocks", problems
    if not text and not blocks:
        return "no_text", []
    if isinstance(text, str):
        if len(text) > MAX_TEXT:
            return "msg_too_long", [f"text is {len(text)} characters"]
        if args.get("mrkdwn", True) is not False:
            problems = mrkdwn_problems(text, "text")
            if problems:
                return "invalid_arguments", problems
    return None


@dataclass(frozen=True)
class RawAnswer:
    """An answer given as it is (see `FakeSlack.answer_raw`)."""

    status: int
    content_type: str
    body: str


@dataclass
class Call:
    """One request the fake answered: an API method, a response_url key or an upload."""

    kind: str  # "api", "respond", "upload" or "socket"
    name: str  # the method, the response_url key or the file id
    args: dict[str, Any]
    status: int
    answer: Any

    @property
    def ok(self) -> bool:
        if self.kind == "api":
            answered = isinstance(self.answer, dict) and bool(self.answer.get("ok"))
            return self.status == 200 and answered
        return self.status == 200

    @property
    def error(self) -> str | None:
        if self.ok:
            return None
        if isinstance(self.answer, dict):
            return str(self.answer.get("error"))
        return str(self.answer)

    @property
    def text(self) -> str:
        """Everything a person would read in a message call: fallback text and block texts."""
        return "\n".join(_texts(self.args))


def _texts(message: dict[str, Any]) -> list[str]:
    texts = [message["text"]] if isinstance(message.get("text"), str) else []
    for block in message.get("blocks") or []:
        if isinstance(block.get("text"), dict):
            texts.append(block["text"].get("text", ""))
        for element in block.get("elements") or []:
            if isinstance(element.get("text"), dict):
                texts.append(element["text"].get("text", ""))
    return texts


class FakeSlack:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self.files: list[dict[str, Any]] = []  # completed uploads: channel, title, content
        self.channels: dict[str, list[str]] = {}  # channel id -> member ids, in join order
        self.archived: set[str] = set()
        # Every message in a channel, the bot's and people's, by (channel, ts)
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.homes: dict[str, dict[str, Any]] = {}  # user id -> the Home view published last
        self.views: dict[str, dict[str, Any]] = {}  # open modals by view id
        self.acks: dict[str, dict[str, Any]] = {}  # Socket Mode acknowledgements by envelope id
        self.members_page = 2  # the most members one conversations.members page returns
        self._rate_limits: dict[str | None, int] = {}
        self._retry_after = [1]
        self._failures: dict[str, list[str]] = {}
        self._raw: dict[str, list[RawAnswer]] = {}
        self._slow: dict[str, list[float]] = {}
        self._pending_files: dict[str, str] = {}
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- control ------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, key: str) -> str:
        return f"{self.url}/respond/{key}"

    def add_user(self, user_id: str, name: str, display_name: str = "") -> None:
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": display_name or name,
            "profile": {"display_name": display_name, "real_name": display_name or name},
        }

    def add_channel(self, channel_id: str, *members: str) -> None:
        self.channels[channel_id] = [BOT_USER_ID, *members]

    def rate_limit(
        self, times: int, method: str | None = None, retry_after: int | list[int] = 1
    ) -> None:
        """Answer the next `times` calls (to `method`, or to any method) with HTTP 429, saying
        `Retry-After: retry_after` (a list: one value per answer, the last one repeated)."""
        self._rate_limits[method] = times
        self._retry_after = [retry_after] if isinstance(retry_after, int) else list(retry_after)

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next `times` calls to `method` with `{"ok": false, "error": error}`."""
        self._failures.setdefault(method, []).extend([error] * times)

    def answer_raw(
        self,
        method: str,
        body: str,
        *,
        status: int = 200,
        content_type: str = "text/plain",
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls to `method` with `body` as it is, not as Slack's JSON:
        what a proxy or a failing server in front of Slack may send (an HTML 500, an
        `application/json` answer that is not JSON). The call is recorded but not carried out."""
        self._raw.setdefault(method, []).extend([RawAnswer(status, content_type, body)] * times)

    def slow(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` calls to `method` are carried out and recorded at once but answered
        only after `seconds`: a client that stops waiting never hears Slack did it."""
        self._slow.setdefault(method, []).extend([seconds] * times)

    # --- inspection ---------------------------------------------------------------------------

    def api_calls(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.kind == "api" and c.name == method]

    def delivered(self, method: str) -> list[Call]:
        return [c for c in self.api_calls(method) if c.ok]

    def views_sent(self, method: str) -> list[dict[str, Any]]:
        """The views Slack accepted from `views.publish`, `views.open` or `views.update`."""
        return [c.args["view"] for c in self.delivered(method)]

    def responses(self, key: str) -> list[Call]:
        """Messages sent to the response_url `key` that Slack would have shown."""
        return [c for c in self.calls if c.kind == "respond" and c.name == key and c.ok]

    def errors(self) -> list[str]:
        return [c.error for c in self.calls if c.error is not None]

    def bad_messages(self) -> list[Call]:
        """Calls refused because the message broke Slack's rules: a renderer bug."""
        return [c for c in self.calls if c.error in BAD_MESSAGE_ERRORS]

    async def wait_for(self, ready: Callable[[], bool], seconds: float = 10.0) -> None:
        """Until `ready()` holds after some call (TimeoutError after `seconds`)."""
        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(ready)

    async def _record(self, call: Call) -> None:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    # --- Web API ------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _arguments(request)
        if self._raw.get(method):
            raw = self._raw[method].pop(0)
            await self._record(Call("api", method, args, raw.status, raw.body))
            return web.Response(
                status=raw.status,
                body=raw.body.encode(),
                headers={"Content-Type": raw.content_type},
            )
        status, answer, headers = self._answer(method, args, request.headers.get("Authorization"))
        await self._record(Call("api", method, args, status, answer))
        if self._slow.get(method):
            await asyncio.sleep(self._slow[method].pop(0))
        return web.json_response(answer, status=status, headers=headers)

    def _answer(
        self, method: str, args: dict[str, Any], authorization: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        for key in (method, None):
            if self._rate_limits.get(key, 0) > 0:
                self._rate_limits[key] -= 1
                wait = (
                    self._retry_after.pop(0) if len(self._retry_after) > 1 else self._retry_after[0]
                )
                return (
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(wait)},
                )
        token = (authorization or "").removeprefix("Bearer ").strip() or args.get("token")
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if method == "apps.connections.open":
            # Only the app-level token opens Socket Mode connections.
            if token != APP_TOKEN:
                error = "not_allowed_token_type" if token == self.token else "invalid_auth"
                return 200, {"ok": False, "error": error}, {}
        elif token != self.token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if self._failures.get(method):
            return 200, {"ok": False, "error": self._failures[method].pop(0)}, {}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return 200, handler(args), {}

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://ccin-test.slack.com/",
            "team": "CCIN test",
            "user": "ccin",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _message(self, args: dict[str, Any], *required: str) -> dict[str, Any] | None:
        """The error answer for a bad message call, or None if Slack would take it."""
        for name in required:
            if not args.get(name):
                return {"ok": False, "error": f"{name}_not_found" if name != "ts" else "no_ts"}
        if not _CHANNEL.match(str(args["channel"])):
            return {"ok": False, "error": "channel_not_found"}
        refused = message_error(args)
        if refused is not None:
            error, problems = refused
            return {
                "ok": False,
                "error": error,
                "errors": problems,
                "response_metadata": {"messages": [f"[ERROR] {p}" for p in problems]},
            }
        return None

    def _next_ts(self) -> str:
        return f"1790000000.{next(self._ts):06d}"

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        refused = self._message(args, "channel")
        if refused is not None:
            return refused
        channel = str(args["channel"])
        if channel in self.archived:
            return {"ok": False, "error": "is_archived"}
        if BOT_USER_ID not in self.channels.get(channel, [BOT_USER_ID]):
            return {"ok": False, "error": "not_in_channel"}
        if "username" in args and len(str(args["username"])) > 80:
            return {"ok": False, "error": "invalid_arguments"}
        ts = self._next_ts()
        message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": ts}
        message |= {k: args[k] for k in ("text", "blocks", "thread_ts", "username") if k in args}
        if "username" in args:
            message["subtype"] = "bot_message"  # posted under a name of the app's choosing
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": args["channel"], "ts": ts, "message": message}

    def post_as(
        self,
        user_id: str,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """A person posts in a channel (as Slack's clients do: mrkdwn `text` and `rich_text`
        blocks): the message, kept here, as its `message` event carries it."""
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": user_id,
            "text": text,
            "ts": ts,
            "team": TEAM_ID,
            "channel": channel,
            "channel_type": "channel",
            "event_ts": ts,
        }
        if blocks is not None:
            message["blocks"] = blocks
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
        self.messages[(channel, ts)] = message
        return message

    def edit_as(self, message: dict[str, Any], text: str) -> dict[str, Any]:
        """The author edits a message: the `message_changed` event Slack sends."""
        channel, ts = message["channel"], message["ts"]
        previous = self.messages[(channel, ts)]
        current = {k: v for k, v in previous.items() if k not in ("blocks", "channel", "event_ts")}
        current |= {"text": text, "edited": {"user": message["user"], "ts": self._next_ts()}}
        self.messages[(channel, ts)] = current | {"channel": channel}
        event_ts = self._next_ts()
        return {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": channel,
            "channel_type": "channel",
            "message": current,
            "previous_message": {k: v for k, v in previous.items() if k != "channel"},
            "event_ts": event_ts,
            "ts": event_ts,
        }

    def delete_as(self, message: dict[str, Any]) -> dict[str, Any]:
        """The author deletes a message: the `message_deleted` event Slack sends."""
        channel, ts = message["channel"], message["ts"]
        previous = self.messages.pop((channel, ts))
        event_ts = self._next_ts()
        return {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": channel,
            "channel_type": "channel",
            "deleted_ts": ts,
            "previous_message": {k: v for k, v in previous.items() if k != "channel"},
            "event_ts": event_ts,
            "ts": event_ts,
        }

    def _m_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        if not _CHANNEL.match(channel):
            return {"ok": False, "error": "channel_not_found"}
        found = self.messages.get((channel, ts))
        if found is None:
            return {"ok": False, "error": "message_not_found"}
        if found.get("bot_id") != BOT_ID:
            return {"ok": False, "error": "cant_delete_message"}
        del self.messages[(channel, ts)]
        return {"ok": True, "channel": channel, "ts": ts}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("user"):
            return {"ok": False, "error": "user_not_found"}
        return self._message(args, "channel") or {"ok": True, "message_ts": self._next_ts()}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        refused = self._message(args, "channel", "ts")
        if refused is not None:
            return refused
        key = (str(args["channel"]), str(args["ts"]))
        if key in self.messages:  # (a response_url's message is not kept here)
            if self.messages[key].get("bot_id") != BOT_ID:
                return {"ok": False, "error": "cant_update_message"}
            self.messages[key] |= {k: args[k] for k in ("text", "blocks") if k in args}
        return {"ok": True, "channel": args["channel"], "ts": args["ts"], "text": args.get("text")}

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users") or "").split(",")
        if len(users) != 1 or not users[0]:
            return {"ok": False, "error": "users_list_not_supplied"}
        return {"ok": True, "channel": {"id": "D" + users[0].removeprefix("U")}}

    def _channel(self, args: dict[str, Any]) -> tuple[str, list[str]] | dict[str, Any]:
        channel = str(args.get("channel") or "")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self.archived:
            return {"ok": False, "error": "is_archived"}
        return channel, self.channels[channel]

    def _m_conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        found = self._channel(args)
        if isinstance(found, dict):
            return found
        channel, members = found
        users = [u for u in str(args.get("users") or "").split(",") if u]
        if not users:
            return {"ok": False, "error": "no_user"}
        for user in users:
            if user not in self.users:
                return {"ok": False, "error": "user_not_found"}
            if user in members:
                return {"ok": False, "error": "already_in_channel"}
        members.extend(users)
        return {"ok": True, "channel": {"id": channel}}

    def _m_conversations_kick(self, args: dict[str, Any]) -> dict[str, Any]:
        found = self._channel(args)
        if isinstance(found, dict):
            return found
        _, members = found
        user = str(args.get("user") or "")
        if user == BOT_USER_ID:
            return {"ok": False, "error": "cant_kick_self"}
        if user not in members:
            return {"ok": False, "error": "not_in_channel"}
        members.remove(user)
        return {"ok": True}

    def _m_conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        members = self.channels[channel]
        start = int(args.get("cursor") or 0)
        # Slack may return fewer than `limit`: callers must follow the cursor.
        size = min(int(args.get("limit") or 100), self.members_page)
        page = members[start : start + size]
        following = str(start + size) if start + size < len(members) else ""
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": following}}

    def _view(self, args: dict[str, Any], kind: str) -> dict[str, Any]:
        view = args.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except json.JSONDecodeError:
                view = None
        args["view"] = view
        problems = view_problems(view, kind)
        if problems:
            return {
                "ok": False,
                "error": "invalid_blocks" if view else "invalid_arguments",
                "errors": problems,
                "response_metadata": {"messages": [f"[ERROR] {p}" for p in problems]},
            }
        return {"ok": True}

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user_id") or "")
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        refused = self._view(args, "home")
        if not refused["ok"]:
            return refused
        self.homes[user] = args["view"]
        return {"ok": True, "view": {"id": f"VHOME{user}", **args["view"]}}

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        refused = self._view(args, "modal")
        if not refused["ok"]:
            return refused
        view_id = f"V{next(self._ids):06d}"
        self.views[view_id] = args["view"]
        return {"ok": True, "view": {"id": view_id, "hash": "h1", **args["view"]}}

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = str(args.get("view_id") or "")
        if view_id not in self.views:
            return {"ok": False, "error": "not_found"}
        refused = self._view(args, "modal")
        if not refused["ok"]:
            return refused
        self.views[view_id] = args["view"]
        return {"ok": True, "view": {"id": view_id, "hash": "h2", **args["view"]}}

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.url.replace("http://", "ws://") + "/socket"}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user")))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{len(self._pending_files) + 1:04d}"
        self._pending_files[file_id] = str(args["filename"])
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        files = json.loads(files) if isinstance(files, str) else files
        done = []
        for item in files or []:
            if item.get("id") not in self.uploads:
                return {"ok": False, "error": "file_not_found"}
            done.append(
                {
                    "id": item["id"],
                    "name": self._pending_files[item["id"]],
                    "title": item.get("title"),
                }
            )
            self.files.append(
                {
                    "channel": args.get("channel_id"),
                    "title": item.get("title"),
                    "name": self._pending_files[item["id"]],
                    "content": self.uploads[item["id"]],
                }
            )
        return {"ok": True, "files": done}

    # --- response_url and uploads -------------------------------------------------------------

    async def _respond(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        try:
            message = await request.json()
        except json.JSONDecodeError:
            message = None
        refused = message_error(message) if isinstance(message, dict) else ("invalid_json", [])
        if refused is None and len(self.responses(key)) >= MAX_RESPONSES:
            refused = ("used_url", [f"a response_url takes at most {MAX_RESPONSES} messages"])
        status, body = (
            (200, "ok")
            if refused is None
            else (404 if refused[0] == "used_url" else 400, refused[0])
        )
        await self._record(Call("respond", key, message or {}, status, body))
        return web.Response(status=status, text=body)

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self._pending_files:
            return web.Response(status=404, text="unknown upload")
        data = await request.read()
        self.uploads[file_id] = data
        await self._record(Call("upload", file_id, {"length": len(data)}, 200, "OK"))
        return web.Response(text=f"OK - {len(data)}")

    # --- Socket Mode --------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()  # answers the client's pings with pongs
        await socket.prepare(request)
        self._sockets.append(socket)
        await self._record(Call("socket", "connect", {}, 200, "hello"))
        await socket.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0CCIN"}}
        )
        try:
            async for message in socket:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                ack = json.loads(message.data)
                self.acks[str(ack.get("envelope_id"))] = ack
                await self._record(Call("socket", "ack", ack, 200, "ok"))
        finally:
            self._sockets.remove(socket)
        return socket

    async def socket_send(
        self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool = False
    ) -> str:
        """Send one envelope (events_api, slash_commands, interactive) to the connected app."""
        await self.wait_for(lambda: bool(self._sockets))
        envelope_id = f"env-{next(self._ids)}"
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": accepts_response_payload,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id

    async def socket_ack(self, envelope_id: str) -> dict[str, Any]:
        await self.wait_for(lambda: envelope_id in self.acks)
        return self.acks[envelope_id]


async def _arguments(request: web.Request) -> dict[str, Any]:
    """Slack's clients send JSON for messages and form or query arguments for the rest."""
    args: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            args |= body
    elif request.can_read_body:
        args |= dict(await request.post())
    if isinstance(args.get("blocks"), str):
        try:
            args["blocks"] = json.loads(args["blocks"])
        except json.JSONDecodeError:
            args["blocks"] = None
    return args
