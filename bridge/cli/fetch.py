"""Fetch a published file (a council's calendar feed, an export) for `ccin-bridge import`.

The importers read files; this turns an http(s) URL into one, with a size cap, a timeout and
errors a person can act on. `webcal://` (how calendar apps publish feeds) means https. The
fetching itself is scheduler/feed_fetch.py, which the calendar-feed job uses too.
"""

from __future__ import annotations

from pathlib import Path

from ccin_bridge.scheduler.feed_fetch import (
    MAX_BYTES,
    TIMEOUT_SECONDS,
    address_check,
    fetch,
    file_name,
    is_url,
)

__all__ = ["MAX_BYTES", "TIMEOUT_SECONDS", "download", "file_name", "is_url"]


async def download(
    url: str, folder: Path, *, max_bytes: int = MAX_BYTES, allow_private: bool = False
) -> Path:
    """Save the URL's body in `folder`; ImportFileError says what went wrong. Only from a
    public address unless `allow_private` (`calendar_feeds.allow_private_addresses`)."""
    fetched = await fetch(url, folder, max_bytes=max_bytes, allowed=address_check(allow_private))
    assert fetched.path is not None  # an unconditional request is never "not modified"
    return fetched.path
