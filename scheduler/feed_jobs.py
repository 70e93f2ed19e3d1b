"""The calendar-feed job: every few minutes, fetch the subscribed feeds that are due and keep
the events in step (new, changed, moved and cancelled ones; see store/event_feeds.py).

The feeds are those in config (`calendar_feeds.feeds`) and those added with
`ccin-bridge import events URL --every 6h`. A feed that cannot be fetched or read keeps its
events as they were; the error is logged and kept on the feed, and it is tried again when next
due. The request is conditional on the last fetch's ETag and Last-Modified.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ccin_bridge.handlers.config import Settings
from ccin_bridge.scheduler import runtime
from ccin_bridge.store.db import Database

if TYPE_CHECKING:
    from ccin_bridge.store import event_feeds

log = logging.getLogger(__name__)


async def refresh_event_feeds() -> int:
    """Fetch every feed that is due; returns how many had changed."""
    bridge = runtime.current().bridge
    return await refresh_due(bridge.db, bridge.settings, bridge.clock())


async def refresh_due(db: Database, settings: Settings, now: datetime) -> int:
    # The importers load only when a feed is refreshed: the scheduler starts beside the
    # terminal chat, which must come up without them.
    from ccin_bridge.store import event_feeds

    async with db.session() as session:
        for configured in settings.calendar_feeds.feeds:
            await event_feeds.subscribe(session, configured.url, configured.every_minutes)
        due = await event_feeds.due_ids(session, now)
    changed = 0
    for feed_id in due:
        try:
            result = await refresh(
                db,
                feed_id,
                settings.zone,
                now,
                allow_private=settings.calendar_feeds.allow_private_addresses,
            )
        except Exception:  # one broken feed must not stop the others
            # The feed's error is shown to admins: a category, the details only in the log.
            log.exception("calendar feed %s failed", feed_id)
            await _failed(db, feed_id, now, UNEXPECTED)
            continue
        if result is not None and result.report is not None:
            changed += 1
    return changed


UNEXPECTED = "an unexpected error (the details are in the bridge's log)"


async def _failed(db: Database, feed_id: int, now: datetime, error: str) -> None:
    """Keep why a feed failed, in a unit of work of its own (the failed one is undone)."""
    from ccin_bridge.store import event_feeds

    try:
        async with db.session() as session:
            await event_feeds.checked(session, feed_id, now, error=error)
    except Exception:  # the database itself may be what failed
        log.exception("calendar feed %s: cannot record the failure", feed_id)


async def refresh(
    db: Database, feed_id: int, zone: ZoneInfo, now: datetime, *, allow_private: bool = False
) -> event_feeds.FeedResult | None:
    """Fetch one feed and apply it, in one unit of work; None (and the error kept on the
    feed) if it could not be fetched or read. Only from public addresses unless
    `allow_private` (`calendar_feeds.allow_private_addresses`)."""
    from ccin_bridge.scheduler.feed_fetch import FEED_FORMATS, address_check, fetch
    from ccin_bridge.store import event_feeds
    from ccin_bridge.store.importers import ImportFileError

    async with db.session() as session:
        feed = await event_feeds.state(session, feed_id)
        if feed is None:
            return None
        with tempfile.TemporaryDirectory(prefix="ccin-feed-") as folder:
            try:
                fetched = await fetch(
                    feed.url,
                    Path(folder),
                    etag=feed.etag,
                    last_modified=feed.last_modified,
                    formats=FEED_FORMATS,
                    allowed=address_check(allow_private),
                )
                if fetched.path is None:
                    await event_feeds.checked(
                        session,
                        feed_id,
                        now,
                        etag=fetched.etag,
                        last_modified=fetched.last_modified,
                    )
                    return event_feeds.FeedResult(None)
                result = await event_feeds.apply(session, feed_id, fetched.path, zone)
            except ImportFileError as exc:
                log.warning("calendar feed %s: %s", feed_id, exc)
                await event_feeds.checked(session, feed_id, now, error=str(exc))
                return None
        await event_feeds.checked(
            session,
            feed_id,
            now,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            changed=True,
        )
        log.info("calendar feed %s: %s", feed_id, result.summary())
        return result
