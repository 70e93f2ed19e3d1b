"""Fetch a published file over HTTP: what `ccin-bridge import ... URL` and the calendar-feed
job both use (the CLI's bridge/cli/fetch.py is a thin front to it).

A size cap, a timeout and errors a person can act on. `webcal://` (how calendar apps publish
feeds) means https. With the validators of the last fetch (ETag, Last-Modified) the request
is conditional, and a 304 means the feed has not changed: nothing is saved.

Only public addresses are fetched: every host (each redirect hop too) is resolved by our own
resolver, which refuses an address that is not global (loopback, private, link-local such as
169.254.169.254, ...), and the connection goes to the address that was checked, so DNS
rebinding cannot get round it. An operator opts in to private addresses (an intranet calendar)
with `calendar_feeds.allow_private_addresses`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

from ccin_bridge.store.importers import ImportFileError

if TYPE_CHECKING:
    import aiohttp
    from aiohttp.abc import ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressCheck = Callable[[IPAddress], bool]

MAX_BYTES = 20 * 1024 * 1024
# A calendar feed is text a calendar or a script publishes; a workbook (a zip that unpacks to
# far more than it weighs) is imported only when a person asks for it.
FEED_FORMATS = (".ics", ".csv", ".json")
TIMEOUT_SECONDS = 30.0
MAX_REDIRECTS = 5
REFUSED = "refused: a private or local address"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SUFFIX_BY_TYPE = {
    "text/calendar": ".ics",
    "text/csv": ".csv",
    "application/json": ".json",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}
_UNSAFE_NAME = re.compile(r"[^\w.\-]+")


@dataclass(frozen=True)
class Fetched:
    path: Path | None  # None: not modified since the validators given
    etag: str | None
    last_modified: str | None


def is_url(text: str) -> bool:
    return text.casefold().startswith(("http://", "https://", "webcal://"))


def fetchable(url: str) -> str:
    if url.casefold().startswith("webcal://"):
        return "https://" + url[len("webcal://") :]
    return url


def file_name(url: str, content_type: str) -> str:
    """A local name whose extension tells the importer the format: the URL's own file name,
    or one derived from the Content-Type when the URL has none (`/calendar` -> feed.ics)."""
    last = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    name = _UNSAFE_NAME.sub("_", last).strip("._")[:80] or "download"
    if Path(name).suffix.casefold() in (".ics", ".csv", ".json", ".xlsx"):
        return name
    suffix = _SUFFIX_BY_TYPE.get(content_type.split(";")[0].strip().casefold())
    return f"{name}{suffix}" if suffix else name


def public_only(address: IPAddress) -> bool:
    """An address on the internet at large; an IPv4-mapped IPv6 one judged as its IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global


def any_address(address: IPAddress) -> bool:
    return True


def address_check(allow_private: bool) -> AddressCheck:
    """The check `calendar_feeds.allow_private_addresses` asks for."""
    return any_address if allow_private else public_only


class RefusedAddress(OSError):
    """A host that is, or resolves to, an address the check refuses."""


def _checked(address: str, allowed: AddressCheck) -> None:
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        raise RefusedAddress(address) from None
    if not allowed(parsed):
        raise RefusedAddress(address)


def _resolver(allowed: AddressCheck) -> object:
    """A resolver that refuses a name any of whose addresses the check refuses."""
    from aiohttp import ThreadedResolver

    class CheckingResolver(ThreadedResolver):
        async def resolve(
            self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
        ) -> list[ResolveResult]:
            hosts = await super().resolve(host, port, family)
            for found in hosts:
                _checked(found["host"], allowed)
            return hosts

    return CheckingResolver()


async def fetch(
    url: str,
    folder: Path,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = MAX_BYTES,
    formats: tuple[str, ...] | None = None,
    allowed: AddressCheck = public_only,
) -> Fetched:
    """Save the URL's body in `folder`; ImportFileError says what went wrong. With `formats`
    (file extensions), any other kind of file is refused before its body is read. A host
    whose address `allowed` refuses (by default any but a public one) is never connected to,
    on the first request or after a redirect."""
    target = fetchable(url)
    import aiohttp  # here: a local file's import need not load it (0.4 s)

    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    headers = {"If-None-Match": etag} if etag else {}
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    resolver = _resolver(allowed)
    connector = aiohttp.TCPConnector(resolver=resolver)  # type: ignore[arg-type]
    try:
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            response = await _follow(session, target, headers, allowed)
            async with response:
                return await _save(url, folder, response, headers, max_bytes, formats)
    except RefusedAddress:
        raise ImportFileError(f"{url}: {REFUSED}") from None
    except aiohttp.ClientConnectorDNSError as exc:
        if isinstance(exc.os_error, RefusedAddress):
            raise ImportFileError(f"{url}: {REFUSED}") from None
        raise ImportFileError(f"{url}: cannot fetch it (the name does not resolve)") from None
    except TimeoutError:
        raise ImportFileError(f"{url}: no answer within {TIMEOUT_SECONDS:.0f} s") from None
    except aiohttp.InvalidURL:
        raise ImportFileError(f"{url}: not a valid URL") from None
    except aiohttp.ClientError as exc:
        raise ImportFileError(f"{url}: cannot fetch it ({exc.__class__.__name__})") from None


async def _follow(
    session: aiohttp.ClientSession, target: str, headers: dict[str, str], allowed: AddressCheck
) -> aiohttp.ClientResponse:
    """GET `target`, following at most MAX_REDIRECTS redirects by hand, so that each hop's
    host is checked (a literal address here; a name by the resolver)."""
    for _ in range(MAX_REDIRECTS + 1):
        host = urlsplit(target).hostname
        if host is not None and _is_literal(host):
            _checked(host, allowed)
        response = await session.get(target, allow_redirects=False, headers=headers)
        location = response.headers.get("Location")
        if response.status not in _REDIRECTS or not location:
            return response
        response.release()
        target = urljoin(target, location)
        if urlsplit(target).scheme.casefold() not in ("http", "https"):
            raise aiohttp.InvalidURL(target)
    raise aiohttp.TooManyRedirects(response.request_info, response.history)


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


async def _save(
    url: str,
    folder: Path,
    response: aiohttp.ClientResponse,
    headers: dict[str, str],
    max_bytes: int,
    formats: tuple[str, ...] | None,
) -> Fetched:
    etag, last_modified = headers.get("If-None-Match"), headers.get("If-Modified-Since")
    if response.status == 304 and headers:
        return Fetched(None, etag, last_modified)
    if response.status != 200:
        reason = response.reason or "error"
        raise ImportFileError(f"{url}: the server answered {response.status} {reason}")
    content_type = response.headers.get("Content-Type", "")
    name = file_name(url, content_type)
    if formats is not None and Path(name).suffix.casefold() not in formats:
        raise ImportFileError(_not_a_feed(url, Path(name).suffix.casefold(), formats))
    if (response.content_length or 0) > max_bytes:
        raise ImportFileError(f"{url}: larger than {max_bytes // 1_048_576} MB")
    body = bytearray()
    async for chunk in response.content.iter_chunked(65536):
        body.extend(chunk)
        if len(body) > max_bytes:
            raise ImportFileError(f"{url}: larger than {max_bytes // 1_048_576} MB")
    validators = (response.headers.get("ETag"), response.headers.get("Last-Modified"))
    path = folder / name
    await asyncio.to_thread(path.write_bytes, bytes(body))
    return Fetched(path, *validators)


def _not_a_feed(url: str, suffix: str, formats: tuple[str, ...]) -> str:
    what = (
        "an Excel workbook (.xlsx)" if suffix == ".xlsx" else (suffix or "a file of no known type")
    )
    return (
        f"{url}: a calendar feed must be an iCalendar, CSV or JSON file ({', '.join(formats)}),"
        f" not {what}; import a workbook once with `ccin-bridge import events FILE`"
    )
