"""Fetch a published file over HTTP: what `ccin-bridge import ... URL` and the calendar-feed
job both use (the CLI's bridge/cli/fetch.py is a thin front to it).

A size cap, a timeout and errors a person can act on. `webcal://` (how calendar apps publish
feeds) means https. With the validators of the last fetch (ETag, Last-Modified) the request
is conditional, and a 304 means the feed has not changed: nothing is saved.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ccin_bridge.store.importers import ImportFileError

MAX_BYTES = 20 * 1024 * 1024
# A calendar feed is text a calendar or a script publishes; a workbook (a zip that unpacks to
# far more than it weighs) is imported only when a person asks for it.
FEED_FORMATS = (".ics", ".csv", ".json")
TIMEOUT_SECONDS = 30.0
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


async def fetch(
    url: str,
    folder: Path,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = MAX_BYTES,
    formats: tuple[str, ...] | None = None,
) -> Fetched:
    """Save the URL's body in `folder`; ImportFileError says what went wrong. With `formats`
    (file extensions), any other kind of file is refused before its body is read."""
    target = fetchable(url)
    import aiohttp  # here: a local file's import need not load it (0.4 s)

    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    headers = {"If-None-Match": etag} if etag else {}
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(target, allow_redirects=True, headers=headers) as response,
        ):
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
    except TimeoutError:
        raise ImportFileError(f"{url}: no answer within {TIMEOUT_SECONDS:.0f} s") from None
    except aiohttp.InvalidURL:
        raise ImportFileError(f"{url}: not a valid URL") from None
    except aiohttp.ClientError as exc:
        raise ImportFileError(f"{url}: cannot fetch it ({exc.__class__.__name__})") from None
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
