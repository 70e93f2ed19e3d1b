"""PTB's calls over aiohttp (bots/telegram/http.py), and the long poll on it (polling.py).

The real PTB `Bot` sends through `AiohttpRequest` to the fake Bot API, or to a scripted server
for what the fake does not do (an HTML 502, answers in a set order), or to a socket that never
answers. Where PTB's own `HTTPXRequest` is the reference, both run and must agree, down to the
cause that bots/telegram/errors.py reads to tell whether Telegram may have acted on a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import socket
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import aiohttp
import httpx
import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ParseMode
from telegram.error import NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import AIORateLimiter, ApplicationBuilder
from telegram.request import BaseRequest, HTTPXRequest
from yarl import URL

from ccin_bridge.bots.telegram import polling
from ccin_bridge.bots.telegram.adapter import TelegramBot
from ccin_bridge.bots.telegram.errors import delivery_errors
from ccin_bridge.bots.telegram.http import AiohttpRequest, env_proxy, proxy_for
from ccin_bridge.bots.telegram.polling import Poller
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.inbox import Arrival, Inbox
from ccin_bridge.scheduler.outbound import MaybeSent, describe
from tests.bots.telegram.conftest import ALICE
from tests.fakes.telegram_api import TOKEN, Document, FakeTelegramAPI

BOTH = pytest.mark.parametrize("kind", [HTTPXRequest, AiohttpRequest], ids=["httpx", "aiohttp"])
RequestKind = type[HTTPXRequest] | type[AiohttpRequest]


@pytest.fixture(autouse=True)
def timedelta_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    # As the adapter does; otherwise PTB warns at each RetryAfter (an error in tests).
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture(autouse=True)
def httpx_only_for_reference(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing goes through httpx, except where a test runs HTTPXRequest on purpose."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("kind") is HTTPXRequest:
        return

    async def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a request went through httpx")

    monkeypatch.setattr(httpx.AsyncClient, "send", refused)


@contextlib.asynccontextmanager
async def bot_on(base_url: str, request: BaseRequest) -> AsyncIterator[Bot]:
    """A PTB Bot sending through `request`, initialized (no getMe: not every server has one)."""
    await request.initialize()
    try:
        yield Bot(TOKEN, base_url=base_url, request=request)
    finally:
        await request.shutdown()


@contextlib.contextmanager
def silent_socket(backlog: int) -> Iterator[tuple[socket.socket, str]]:
    """A socket that listens and never accepts: the kernel completes connections up to its
    backlog and takes in what they send until its buffers are full, then nothing more."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(backlog)
        yield sock, f"http://127.0.0.1:{sock.getsockname()[1]}/bot"


# --- a scripted Bot API ---------------------------------------------------------------------


@dataclass
class Answer:
    status: int = 200
    body: Any = field(default_factory=lambda: {"ok": True, "result": []})  # bytes: sent raw
    delay: float = 0.0
    content_type: str = "application/json"


@dataclass
class Scripted:
    """Each POST gets the next answer; the last one repeats. `seen`: (when, method, body)."""

    answers: Sequence[Answer]
    seen: list[tuple[float, str, bytes]] = field(default_factory=list)
    base_url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((time.monotonic(), request.match_info["method"], await request.read()))
        answer = self.answers[min(len(self.seen), len(self.answers)) - 1]
        await asyncio.sleep(answer.delay)
        body = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
        return web.Response(status=answer.status, body=body, content_type=answer.content_type)

    def gaps(self) -> list[float]:
        return [b[0] - a[0] for a, b in zip(self.seen, self.seen[1:], strict=False)]


@contextlib.asynccontextmanager
async def scripted(*answers: Answer) -> AsyncIterator[Scripted]:
    server = Scripted(answers)
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", server.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/bot"
    await web.SockSite(runner, sock).start()
    try:
        yield server
    finally:
        await runner.cleanup()


def outcome(error: BaseException) -> tuple[bool, str]:
    """What the outbox makes of a failed send: may it have arrived, and its category."""
    try:
        with delivery_errors():
            raise error
    except MaybeSent as exc:
        return True, describe(exc)
    except BaseException as exc:
        return False, describe(exc)


def chain(error: BaseException) -> list[type[BaseException]]:
    kinds = []
    cause: BaseException | None = error
    while cause is not None:
        kinds.append(type(cause))
        cause = cause.__cause__
    return kinds


# --- sending --------------------------------------------------------------------------------


async def test_a_message_goes_out_through_aiohttp(fake_api: FakeTelegramAPI) -> None:
    fake_api.add_chat(ALICE.private_chat)
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(fake_api.base_url)
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest(1))
        .updater(None)
        .job_queue(None)
        .build()
    )
    async with app:  # initialize (getMe) and shutdown, as the adapter does
        message = await app.bot.send_message(
            ALICE.id,
            "<b>Hello</b> &amp; welcome, «Alice»",
            parse_mode=ParseMode.HTML,
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]]),
        )
    assert message.text == "Hello & welcome, «Alice»" and message.chat.id == ALICE.id
    [sent] = fake_api.sent
    assert sent.html == "<b>Hello</b> &amp; welcome, «Alice»"
    assert sent.reply_markup == {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    assert [c.method for c in fake_api.calls] == ["getMe", "sendMessage"]


async def test_a_call_without_files_goes_as_one_json_object() -> None:
    # JSON, not a form: Python's urlencode of a long message costs ten times its json.dumps.
    # Objects (the keyboard) are nested in it, not JSON strings inside JSON.
    message = {"message_id": 1, "date": 0, "chat": {"id": ALICE.id, "type": "private"}}
    answer = Answer(body={"ok": True, "result": message})
    async with scripted(answer) as server, bot_on(server.base_url, AiohttpRequest()) as bot:
        await bot.send_message(
            ALICE.id,
            "«Hello» & more " * 300,
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]]),
        )
    [(_, method, body)] = server.seen
    assert method == "sendMessage"
    assert json.loads(body) == {
        "chat_id": ALICE.id,
        "text": "«Hello» & more " * 300,
        "reply_markup": {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]},
    }


@BOTH
@pytest.mark.parametrize(
    ("filename", "size", "sent_as", "content_type"),
    [
        ("my-ccin-data.json", 2_000, "my-ccin-data.json", "application/json"),
        # Many writes (the fake takes up to 1 MB), and quotes escaped as httpx escapes them.
        (
            'Officer "Network" – June.ics',
            900_000,
            "Officer %22Network%22 – June.ics",
            "text/calendar",
        ),
    ],
    ids=["json", "ics"],
)
async def test_a_document_is_uploaded_as_multipart(
    fake_api: FakeTelegramAPI,
    kind: RequestKind,
    filename: str,
    size: int,
    sent_as: str,
    content_type: str,
) -> None:
    fake_api.add_chat(ALICE.private_chat)
    content = bytes(range(256)) * (size // 256)
    async with bot_on(fake_api.base_url, kind()) as bot:
        message = await bot.send_document(
            ALICE.id,
            InputFile(content, filename=filename),
            caption="<b>Your data</b> &amp; more",
            parse_mode=ParseMode.HTML,
        )
    [sent] = fake_api.sent
    assert sent.document == Document(sent_as, content, content_type)
    assert sent.text == "Your data & more"
    assert message.document is not None and message.document.file_size == len(content)


# --- failures, as HTTPXRequest raises them ---------------------------------------------------


@BOTH
async def test_no_answer_in_time_is_timed_out_and_may_have_been_sent(
    fake_api: FakeTelegramAPI, kind: RequestKind
) -> None:
    fake_api.add_chat(ALICE.private_chat)
    fake_api.slow("sendMessage", 2.0)
    async with bot_on(fake_api.base_url, kind(read_timeout=0.3)) as bot:
        started = time.monotonic()
        with pytest.raises(TimedOut) as caught:
            await bot.send_message(ALICE.id, "Hello")
        assert time.monotonic() - started < 1.5
    assert chain(caught.value)[:2] == [TimedOut, httpx.ReadTimeout]
    assert outcome(caught.value) == (True, "timed out waiting for Telegram's answer")
    assert [m.text for m in fake_api.sent] == ["Hello"]  # Telegram has it anyway


async def test_a_timeout_given_to_the_call_overrides_the_default(
    fake_api: FakeTelegramAPI,
) -> None:
    fake_api.add_chat(ALICE.private_chat)
    async with bot_on(fake_api.base_url, AiohttpRequest(read_timeout=0.2)) as bot:
        fake_api.slow("sendMessage", 0.6, times=3)
        await bot.send_message(ALICE.id, "given 3 s", read_timeout=3)
        await bot.send_message(ALICE.id, "given none", read_timeout=None)  # no limit
        with pytest.raises(TimedOut):
            await bot.send_message(ALICE.id, "the default")
    assert [m.text for m in fake_api.sent] == ["given 3 s", "given none", "the default"]


@BOTH
async def test_a_refused_connection_is_a_network_error_that_never_reached_telegram(
    kind: RequestKind,
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with bot_on(f"http://127.0.0.1:{port}/bot", kind()) as bot:
        with pytest.raises(NetworkError) as caught:
            await bot.send_message(ALICE.id, "Hello")
    assert chain(caught.value)[:2] == [NetworkError, httpx.ConnectError]
    assert outcome(caught.value) == (False, "network error")
    assert TOKEN not in str(caught.value) and TOKEN not in str(caught.value.__cause__)


@BOTH
async def test_a_connection_that_is_never_accepted_times_out_connecting(
    kind: RequestKind,
) -> None:
    with silent_socket(0) as (sock, base_url):
        port = sock.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]  # the backlog is full after these
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                pytest.skip("this kernel completes connections beyond a full backlog")
        except TimeoutError:
            pass
        try:
            async with bot_on(base_url, kind(connect_timeout=0.3)) as bot:
                with pytest.raises(TimedOut) as caught:
                    async with asyncio.timeout(10):  # without a connect timeout: a minute or more
                        await bot.send_message(ALICE.id, "Hello")
        finally:
            for filler in fillers:
                filler.close()
    assert chain(caught.value)[:2] == [TimedOut, httpx.ConnectTimeout]
    assert outcome(caught.value) == (False, "timed out connecting to Telegram")
    # aiohttp's own message has the URL, and so the token, in it.
    assert TOKEN not in str(caught.value) and TOKEN not in str(caught.value.__cause__)


@BOTH
async def test_an_upload_nobody_reads_runs_into_the_write_timeout(kind: RequestKind) -> None:
    with silent_socket(8) as (_, base_url):
        request = kind(media_write_timeout=0.3, read_timeout=0.3)
        async with bot_on(base_url, request) as bot:
            started = time.monotonic()
            with pytest.raises(TimedOut) as caught:
                async with asyncio.timeout(10):  # without a write timeout: forever
                    await bot.send_document(
                        ALICE.id, InputFile(b"x" * (16 << 20), filename="a.bin")
                    )
            assert time.monotonic() - started < 5
    assert chain(caught.value)[:2] == [TimedOut, httpx.WriteTimeout]
    assert outcome(caught.value) == (False, "timed out connecting to Telegram")


@BOTH
async def test_when_every_connection_is_busy_the_pool_timeout_applies(
    fake_api: FakeTelegramAPI, kind: RequestKind
) -> None:
    fake_api.add_chat(ALICE.private_chat)
    fake_api.slow("sendMessage", 1.0)
    request = kind(connection_pool_size=1, pool_timeout=0.2, read_timeout=5)
    async with bot_on(fake_api.base_url, request) as bot:
        first = asyncio.create_task(bot.send_message(ALICE.id, "first"))
        await fake_api.wait_for(lambda: len(fake_api.sent) == 1)
        with pytest.raises(TimedOut, match="Pool timeout") as caught:
            await bot.send_message(ALICE.id, "second")
        await first
    assert chain(caught.value)[:2] == [TimedOut, httpx.PoolTimeout]
    assert outcome(caught.value) == (False, "timed out connecting to Telegram")
    assert [m.text for m in fake_api.sent] == ["first"]


async def test_a_429_reaches_ptb_as_retry_after(fake_api: FakeTelegramAPI) -> None:
    fake_api.add_chat(ALICE.private_chat)
    fake_api.rate_limit(1, retry_after=7)
    async with bot_on(fake_api.base_url, AiohttpRequest()) as bot:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(ALICE.id, "Hello")
    assert caught.value.retry_after == timedelta(seconds=7)
    assert fake_api.sent == []


async def test_the_rate_limiter_waits_out_a_429_from_aiohttp(fake_api: FakeTelegramAPI) -> None:
    fake_api.add_chat(ALICE.private_chat)
    fake_api.rate_limit(1, retry_after=1)
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(fake_api.base_url)
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest(1))
        .rate_limiter(AIORateLimiter(max_retries=1))
        .updater(None)
        .job_queue(None)
        .build()
    )
    async with app:
        started = time.monotonic()
        await app.bot.send_message(ALICE.id, "Hello")
        assert time.monotonic() - started >= 1.0
    assert [c.status for c in fake_api.calls_to("sendMessage")] == [429, 200]
    assert [m.text for m in fake_api.sent] == ["Hello"]


@BOTH
async def test_an_html_502_is_a_network_error_as_with_httpx(
    kind: RequestKind, caplog: pytest.LogCaptureFixture
) -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    async with (
        scripted(Answer(502, page, content_type="text/html")) as server,
        bot_on(server.base_url, kind()) as bot,
    ):
        with pytest.raises(NetworkError) as caught:
            await bot.send_message(ALICE.id, "Hello")
    assert caught.value.message == f"Bad Gateway (502). Parsing the server response {page!r} failed"
    assert type(caught.value.__cause__) is TelegramError  # PTB's "Invalid server response"
    assert outcome(caught.value) == (False, "platform error 502")
    assert any("invalid JSON" in r.getMessage() for r in caplog.records)  # PTB's own log


@pytest.mark.parametrize(
    ("failure", "error", "cause", "maybe_sent"),
    [
        (aiohttp.ServerDisconnectedError(), NetworkError, httpx.RemoteProtocolError, True),
        (aiohttp.ClientPayloadError("not completed"), NetworkError, httpx.ReadError, True),
        (
            aiohttp.ClientOSError(104, "Connection reset by peer"),
            NetworkError,
            httpx.ReadError,
            True,
        ),
        (aiohttp.SocketTimeoutError("Timeout on reading"), TimedOut, httpx.ReadTimeout, True),
        (aiohttp.InvalidURL("no scheme"), NetworkError, httpx.UnsupportedProtocol, False),
    ],
    ids=["disconnected", "truncated", "reset", "read-timeout", "invalid-url"],
)
async def test_other_aiohttp_failures_are_chained_as_httpx_would_chain_them(
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    error: type[TelegramError],
    cause: type[httpx.HTTPError],
    maybe_sent: bool,
) -> None:
    class Failing:
        async def __aenter__(self) -> None:
            raise failure

        async def __aexit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(aiohttp.ClientSession, "request", lambda *a, **k: Failing())
    async with bot_on("http://127.0.0.1:9/bot", AiohttpRequest()) as bot:
        with pytest.raises(TelegramError) as caught:
            await bot.send_message(ALICE.id, "Hello")
    assert chain(caught.value) == [error, cause]  # aiohttp's own is left out (its URL)
    assert type(failure).__name__ in str(caught.value.__cause__)
    assert outcome(caught.value)[0] is maybe_sent


async def test_no_message_carries_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:9/bot{TOKEN}/sendMessage"

    class Failing:
        async def __aenter__(self) -> None:  # aiohttp's own message has the URL in it
            raise aiohttp.ConnectionTimeoutError(f"Connection timeout to host {URL(url)}")

        async def __aexit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(aiohttp.ClientSession, "request", lambda *a, **k: Failing())
    async with AiohttpRequest() as request:
        with pytest.raises(TimedOut) as caught:
            await request.post(url)
    equivalent = caught.value.__cause__
    assert isinstance(equivalent, httpx.ConnectTimeout)
    assert str(equivalent) == (
        "Connection timeout to host http://127.0.0.1:9/…/sendMessage "
        "(aiohttp.ConnectionTimeoutError)"
    )
    assert TOKEN not in str(caught.value)
    # Nor the traceback a log line would print: every exception in the chain and context.
    printed = "".join(traceback.format_exception(caught.value))
    assert TOKEN not in printed and "ConnectionTimeoutError" in printed
    assert caught.value.__context__ is None  # nor for code that walks the context itself


# --- lifecycle and wiring --------------------------------------------------------------------


async def test_initialize_and_shutdown_may_come_any_number_of_times(
    fake_api: FakeTelegramAPI,
) -> None:
    fake_api.add_chat(ALICE.private_chat)
    request = AiohttpRequest()
    bot = Bot(TOKEN, base_url=fake_api.base_url, request=request)
    await bot.send_message(ALICE.id, "before initialize")  # works, as with HTTPXRequest
    await request.initialize()
    await request.initialize()
    await bot.send_message(ALICE.id, "initialized twice")
    await request.shutdown()
    await request.shutdown()
    with pytest.raises(NetworkError, match="not initialized"):
        await bot.send_message(ALICE.id, "after shutdown")
    async with bot:  # PTB's own initialize and shutdown of the bot, twice
        await bot.send_message(ALICE.id, "again")
    async with bot:
        await bot.send_message(ALICE.id, "and again")
    gc.collect()  # an unclosed session or connector would warn here, an error in tests
    assert [m.text for m in fake_api.sent] == [
        "before initialize",
        "initialized twice",
        "again",
        "and again",
    ]


def test_the_adapter_sends_and_polls_through_aiohttp(tg_bridge: Bridge) -> None:
    bot = TelegramBot(tg_bridge, token=TOKEN, connect_timeout=2, read_timeout=7)
    ptb = bot.application.bot
    assert isinstance(ptb.request, AiohttpRequest) and ptb.request.read_timeout == 7
    updates = cast(Any, ptb)._request[0]  # PTB's request for getUpdates
    assert isinstance(updates, AiohttpRequest) and updates.read_timeout == 7
    assert isinstance(bot.poller.timeouts, aiohttp.ClientTimeout)
    assert bot.poller.timeouts.sock_read == bot.poll_timeout + 7


# --- the long poll ---------------------------------------------------------------------------


class Received:
    """Stands in for the Inbox: what the poller handed over to be stored."""

    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []

    async def receive(self, arrivals: Sequence[Arrival]) -> None:
        self.arrivals.extend(arrivals)


def update(update_id: int) -> dict[str, Any]:
    chat = {"id": ALICE.id, "type": "private", "first_name": ALICE.first_name}
    message = {"message_id": 1, "date": 0, "chat": chat, "text": "/start"}
    return {"update_id": update_id, "message": {**message, "from": ALICE.to_dict()}}


def ok(*updates: dict[str, Any], delay: float = 0.0) -> Answer:
    return Answer(body={"ok": True, "result": list(updates)}, delay=delay)


@contextlib.asynccontextmanager
async def polling_of(
    server: Scripted, *, poll: float = 0.3, read_timeout: float = 0.3
) -> AsyncIterator[tuple[Poller, Received]]:
    received = Received()
    poller = Poller(
        cast(Inbox, received),
        base_url=f"{server.base_url}{TOKEN}",
        allowed_updates=["message"],
        timeout=poll,
        connect_timeout=1,
        read_timeout=read_timeout,
    )
    await poller.start()
    try:
        yield poller, received
    finally:
        await poller.stop()


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polling, "MAX_BACKOFF", 0.01)


async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    for _ in range(int(within / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not so after {within} s")


@pytest.mark.usefixtures("quick_backoff")
async def test_the_long_poll_may_take_its_timeout_plus_the_read_timeout() -> None:
    # 0.3 s of long poll and 0.3 s of read timeout: an answer at 0.45 s is in time, one that
    # would come at 3 s is given up at 0.6 s and asked for again.
    async with (
        scripted(ok(update(5), delay=0.45), ok(delay=3.0), ok(update(6)), ok(delay=0.2)) as server,
        polling_of(server) as (poller, received),
    ):
        # The request after the second batch, too (it comes after the poller's linger).
        await wait_until(lambda: len(received.arrivals) == 2 and len(server.seen) >= 4)
    assert [a.payload["update_id"] for a in received.arrivals] == [5, 6]
    assert 0.55 <= server.gaps()[1] < 2.0
    bodies = [json.loads(body) for _, _, body in server.seen]
    assert bodies[0] == {"timeout": 0, "limit": 100, "allowed_updates": ["message"]}
    assert [b.get("offset") for b in bodies[1:4]] == [6, 6, 7]
    assert poller.batches >= 2


@pytest.mark.usefixtures("quick_backoff")
async def test_the_long_poll_retries_what_it_cannot_read_and_honours_retry_after() -> None:
    flood = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 0.5},
    }
    async with (
        scripted(
            Answer(502, b"<html>Bad Gateway</html>", content_type="text/html"),
            Answer(body=[]),  # JSON, but not an object
            Answer(200, b"not json at all"),
            Answer(429, flood),
            ok(update(9)),
            ok(delay=0.2),
        ) as server,
        polling_of(server) as (_, received),
    ):
        await wait_until(lambda: len(received.arrivals) == 1)
    assert [a.payload["update_id"] for a in received.arrivals] == [9]
    gaps = server.gaps()
    assert all(gap < 0.4 for gap in gaps[:3])  # the unreadable answers: retried at once
    assert gaps[3] >= 0.5  # Telegram's retry_after, not the (patched) backoff


async def test_a_rejected_token_stops_the_long_poll(caplog: pytest.LogCaptureFixture) -> None:
    rejected = {"ok": False, "error_code": 401, "description": "Unauthorized"}
    async with scripted(Answer(401, rejected)) as server, polling_of(server):
        await wait_until(lambda: any("rejected" in r.getMessage() for r in caplog.records))
        await asyncio.sleep(0.2)
        assert len(server.seen) == 1
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


async def test_the_poller_logs_no_token_when_it_cannot_connect(
    caplog: pytest.LogCaptureFixture, quick_backoff: None
) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = Scripted([], base_url=f"http://127.0.0.1:{port}/bot")
    async with polling_of(server):
        await wait_until(lambda: len(caplog.records) >= 2)
    assert any("could not fetch" in r.getMessage() for r in caplog.records)
    assert all(r.exc_info for r in caplog.records)  # at DEBUG, with the traceback
    assert TOKEN not in caplog.text


# --- proxies ----------------------------------------------------------------------------------


async def test_a_proxy_named_by_the_environment_carries_the_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request_lines: list[str] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_lines.append(head.split(b"\r\n", 1)[0].decode())
        length = next(
            (
                int(h.split(b":", 1)[1])
                for h in head.split(b"\r\n")
                if h.lower().startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        body = b'{"ok": true, "result": true}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    env_proxy.cache_clear()
    request = AiohttpRequest()
    await request.initialize()
    try:
        status, body = await request.do_request("http://api.telegram.invalid/bot1:x/getMe", "POST")
        # A host NO_PROXY lists goes direct.
        monkeypatch.setenv("NO_PROXY", "api.telegram.invalid")
        env_proxy.cache_clear()
        assert proxy_for("http://api.telegram.invalid/bot1:x/getMe") is None
    finally:
        await request.shutdown()
        env_proxy.cache_clear()
        server.close()
    assert (status, json.loads(body)) == (200, {"ok": True, "result": True})
    assert request_lines == ["POST http://api.telegram.invalid/bot1:x/getMe HTTP/1.1"]
