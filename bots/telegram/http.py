"""PTB's Bot API calls over aiohttp: a `telegram.request.BaseRequest` on one `ClientSession`.

This is written here because PTB ships only an httpx backend (`HTTPXRequest`), and an httpx
POST costs about four times the CPU of an aiohttp one (measured: ~1.1 ms against ~0.25 ms, client
and a local server), which made PTB's sends a quarter of the bridge's CPU.

It stands in for `HTTPXRequest` as `TelegramBot` builds it:

- the same four timeouts, each the instance's default unless a call passes its own (`None`
  means no limit): connect and read per request (`aiohttp.ClientTimeout`); write per write to
  the socket, as httpx does (aiohttp has none, so the body is written through `_TimedBody`);
  pool, the wait for one of `connection_pool_size` connections (`TCPConnector(limit=...)`).
  Uploads use `media_write_timeout` unless the call gives a write timeout.
- parameters as a JSON object (the Bot API takes application/json for any call without files:
  Python's `urlencode` of a long message costs ten times its `json.dumps`), and with files as
  multipart/form-data (`aiohttp.FormData`), as PTB sends them; HTTP/1.1 only, certificates as
  httpx trusts them (`tls_context`).
- failures raised as HTTPXRequest raises them, down to their cause: `TimedOut` or
  `NetworkError`, from the httpx exception HTTPXRequest would have chained there (itself caused
  by aiohttp's). bots/telegram/errors.py tells from that cause whether Telegram may have acted
  on a request, so it works unchanged. No message says the URL, which holds the bot token.
- `initialize` and `shutdown` may be called any number of times; a request made before the
  first `initialize` works too, as with HTTPXRequest, on a session of its own.
- a proxy named by the environment (`HTTPS_PROXY`, `ALL_PROXY`, with `NO_PROXY`), as httpx
  honours them: councils' networks often only reach the internet through one (`env_proxy`).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import ssl
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from urllib.parse import urlsplit

import aiohttp
import certifi
import httpx
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import BytesIOPayload, BytesPayload, Payload
from multidict import CIMultiDict
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

log = logging.getLogger(__name__)

JSON = "application/json"
# aiohttp hands a body of up to this size to the socket without waiting (its writer's
# buffer limit), so only larger ones need each write timed.
UNTIMED_BODY = 2**16
POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: All connections in the connection pool are occupied. "
    "Request was *not* sent to Telegram. Consider adjusting the connection "
    "pool size or the pool timeout."
)  # HTTPXRequest's words


@cache
def tls_context() -> ssl.SSLContext:
    """The certificates httpx (and so PTB) trusts: `SSL_CERT_FILE` or `SSL_CERT_DIR` if set,
    else certifi's bundle (aiohttp alone would use the system's, which slim images lack)."""
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile and os.path.isfile(cafile):
        return ssl.create_default_context(cafile=cafile)
    if capath and os.path.isdir(capath):
        return ssl.create_default_context(capath=capath)
    return ssl.create_default_context(cafile=certifi.where())


def new_session(limit: int, timeout: aiohttp.ClientTimeout | None = None) -> aiohttp.ClientSession:
    """A session for the Bot API: at most `limit` connections, no cookies (Telegram sets
    none, and each request would pay for the jar), PTB's user agent."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, limit_per_host=0, ssl=tls_context()),
        timeout=timeout or aiohttp.ClientTimeout(),
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": BaseRequest.USER_AGENT},
    )


@cache
def env_proxy(scheme: str, host: str) -> str | None:
    """The proxy the environment names for `host`, or None (none set, or `NO_PROXY` lists it).
    Looked up once per host: aiohttp's own `trust_env` reads the environment and ~/.netrc
    again for every request."""
    if urllib.request.proxy_bypass(host):  # NO_PROXY (the environment's, on Linux)
        return None
    proxies = urllib.request.getproxies_environment()
    return proxies.get(scheme) or proxies.get("all") or None


def proxy_for(url: str) -> str | None:
    parts = urlsplit(url)
    return env_proxy(parts.scheme, parts.hostname or "")


def without_token(text: str, url: str) -> str:
    """`text` (an error's message) with the path of `url`, which carries the bot token, cut
    down to its last part, the Bot API method."""
    path = urlsplit(url).path
    return text.replace(path, "/…/" + path.rsplit("/", 1)[-1]) if len(path) > 1 else text


class AiohttpRequest(BaseRequest):
    """See the module docstring; the arguments are HTTPXRequest's, with its defaults."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_read_timeout",
        "_session",
        "_shut",
        "_slots",
        "_timeouts",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(connection_pool_size)
        self._shut = False  # shut down, and not initialized again since
        # (connect, read) -> the ClientTimeout for them: a handful, made once each.
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}

    @property
    def read_timeout(self) -> float | None:
        """See `BaseRequest.read_timeout`: the default read timeout, in seconds."""
        return self._read_timeout

    async def initialize(self) -> None:
        """See `BaseRequest.initialize`. Opens the session; does nothing if it is open."""
        if self._session is None or self._session.closed:
            self._session = new_session(self._pool_size)
            self._slots = asyncio.Semaphore(self._pool_size)  # of this event loop
        self._shut = False

    async def shutdown(self) -> None:
        """See `BaseRequest.shutdown`. Closes the session; does nothing if there is none."""
        session, self._session = self._session, None
        self._shut = True
        if session is None or session.closed:
            log.debug("This AiohttpRequest is already shut down. Returning.")
            return
        await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See `BaseRequest.do_request`: the answer's status and body, whatever the status."""
        uploads = request_data is not None and request_data.contains_files
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = (
            self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        )
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        if isinstance(write_timeout, DefaultValue):
            write = self._media_write_timeout if uploads else self._write_timeout
        else:
            write = write_timeout
        timeout = self._timeouts.get((connect, read))
        if timeout is None:
            # `connect` in aiohttp bounds getting a connection, the DNS lookup included;
            # the pool's wait is before it, in _exchange.
            timeout = aiohttp.ClientTimeout(connect=connect, sock_connect=connect, sock_read=read)
            self._timeouts[(connect, read)] = timeout
        body = _body(request_data, write) if request_data is not None else None
        try:
            session = self._session
            if session is not None and not session.closed:
                return await self._exchange(session, method, url, body, timeout, pool)
            if self._shut:
                raise RuntimeError("This AiohttpRequest is not initialized!")
            async with self._session_once() as once:  # used before initialize()
                return await self._exchange(once, method, url, body, timeout, pool)
        except (TimeoutError, aiohttp.ClientError) as err:
            error, cause = _translate(err, url)
        # Raised out here, so that aiohttp's exception is not even its context.
        raise error from cause

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        body: Payload | None,
        limits: aiohttp.ClientTimeout,
        pool: float | None,
    ) -> tuple[int, bytes]:
        slots = self._slots
        if slots.locked():  # every connection is busy: wait for one, up to the pool timeout
            try:
                async with asyncio.timeout(pool):
                    await slots.acquire()
            except TimeoutError:
                raise _PoolTimeout from None
        else:
            await slots.acquire()  # returns at once
        try:
            async with session.request(
                method, url, data=body, timeout=limits, proxy=proxy_for(url)
            ) as response:
                return response.status, await response.read()
        finally:
            slots.release()

    @asynccontextmanager
    async def _session_once(self) -> AsyncIterator[aiohttp.ClientSession]:
        session = new_session(self._pool_size)
        try:
            yield session
        finally:
            await session.close()


class _PoolTimeout(TimeoutError):
    """No connection of the pool became free in time; the request was not sent."""


class _WriteTimeout(TimeoutError):
    """A write of the request to the socket did not complete in time."""


# Each aiohttp failure and the httpx exception HTTPXRequest raises there; the first that fits.
_EQUIVALENTS: tuple[tuple[type[BaseException], type[httpx.HTTPError]], ...] = (
    (_PoolTimeout, httpx.PoolTimeout),  # not sent
    (_WriteTimeout, httpx.WriteTimeout),  # not all sent
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),  # not connected
    (TimeoutError, httpx.ReadTimeout),  # aiohttp's sock_read: sent, and no answer in time
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, unresolved, TLS: not sent
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientError, httpx.ReadError),  # the connection failed, or a garbled answer
)


def _translate(err: BaseException, url: str) -> tuple[TelegramError, httpx.HTTPError]:
    """PTB's error for an aiohttp failure, and the httpx exception HTTPXRequest would have
    chained to it. aiohttp's own is left out of the chain: its text may hold the URL, and so
    the token, and a logged traceback prints every exception chained; its words, without the
    token, are the httpx exception's."""
    text = without_token(str(err), url) or type(err).__name__
    kind = next(equivalent for failure, equivalent in _EQUIVALENTS if isinstance(err, failure))
    cause = kind(f"{text} (aiohttp.{type(err).__name__})")
    if isinstance(cause, httpx.TimeoutException):
        pool = isinstance(cause, httpx.PoolTimeout)
        return TimedOut(POOL_TIMEOUT_MESSAGE if pool else None), cause
    return NetworkError(f"aiohttp.{type(err).__name__}: {text}"), cause


def _body(request_data: RequestData, write_timeout: float | None) -> Payload:
    """PTB's parameters as one JSON object (objects such as `reply_markup` nested in it, as
    PTB has turned them into dicts), or with files as multipart/form-data; timed per write
    unless small (see UNTIMED_BODY)."""
    if not request_data.contains_files:
        encoded = json.dumps(request_data.parameters, separators=(",", ":")).encode()
        if len(encoded) <= UNTIMED_BODY:
            return BytesPayload(encoded, content_type=JSON)
        return _TimedBody(BytesIOPayload(io.BytesIO(encoded), content_type=JSON), write_timeout)
    data = aiohttp.FormData(quote_fields=False)  # names and file names as httpx sends them
    for name, value in request_data.json_parameters.items():
        data.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        data.add_field(
            name,
            io.BytesIO(content) if isinstance(content, bytes) else content,
            filename=_safe_filename(filename),
            content_type=mimetype,
        )
    return _TimedBody(data(), write_timeout)


def _safe_filename(name: str) -> str:
    """Escaped as httpx (after the HTML standard) escapes it in Content-Disposition."""
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class _TimedBody(Payload):
    """A request body whose every write to the socket must complete within `timeout`."""

    def __init__(self, body: Payload, timeout: float | None) -> None:
        super().__init__(body, content_type=body.content_type)
        self._body = body
        self._timeout = timeout
        self._size = body.size

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self._body.decode(encoding, errors)

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return await self._body.as_bytes(encoding, errors)

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self._body.write(_TimedWriter(writer, self._timeout))

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        await self._body.write_with_length(_TimedWriter(writer, self._timeout), content_length)

    @property
    def consumed(self) -> bool:
        return self._body.consumed

    @property
    def autoclose(self) -> bool:
        return self._body.autoclose

    async def close(self) -> None:
        await self._body.close()


class _TimedWriter(AbstractStreamWriter):
    """aiohttp's writer for one request, with a time limit on each write (which waits only
    while the socket's buffer is full, that is, while the server is not reading)."""

    def __init__(self, writer: AbstractStreamWriter, timeout: float | None) -> None:
        self._writer = writer
        self._timeout = timeout

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._writer.write(chunk)
        except TimeoutError:
            raise _WriteTimeout("timed out writing the request") from None

    async def drain(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._writer.drain()
        except TimeoutError:
            raise _WriteTimeout("timed out writing the request") from None

    async def write_eof(self, chunk: bytes = b"") -> None:
        await self._writer.write_eof(chunk)

    def enable_compression(self, encoding: str = "deflate", strategy: int | None = None) -> None:
        self._writer.enable_compression(encoding, strategy)

    def enable_chunking(self) -> None:
        self._writer.enable_chunking()

    async def write_headers(self, status_line: str, headers: CIMultiDict[str]) -> None:
        await self._writer.write_headers(status_line, headers)
