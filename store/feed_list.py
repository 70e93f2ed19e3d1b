"""The subscribed calendar feeds as a list: subscribing, unsubscribing and how each last went
(without the importers, which only fetching a feed needs: store/event_feeds.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import Event, EventFeed


async def subscribe(session: AsyncSession, url: str, every_minutes: int | None) -> int:
    """The feed for `url`, made or with its interval changed."""
    feed = await session.scalar(select(EventFeed).where(EventFeed.url == url))
    if feed is None:
        feed = EventFeed(url=url, every_minutes=every_minutes)
        session.add(feed)
    else:
        feed.every_minutes = every_minutes
    await session.flush()
    return feed.id


@dataclass(frozen=True)
class FeedRow:
    id: int
    url: str
    every_minutes: int | None
    checked_at: datetime | None
    changed_at: datetime | None
    last_error: str | None
    events: int  # events it brought that are not cancelled

    @property
    def next_due(self) -> datetime | None:
        """From when the feed job fetches it again (None: never fetched, due at once, or
        no interval: by hand only)."""
        if self.checked_at is None or self.every_minutes is None:
            return None
        return self.checked_at + timedelta(minutes=self.every_minutes)


async def feeds(session: AsyncSession) -> list[FeedRow]:
    """Every subscribed feed, oldest first, with how it last went."""
    counted = await session.execute(
        select(Event.feed_id, func.count())
        .where(Event.feed_id.is_not(None), Event.status != "cancelled")
        .group_by(Event.feed_id)
    )
    counts = {feed_id: int(n) for feed_id, n in counted}
    return [
        FeedRow(
            f.id,
            f.url,
            f.every_minutes,
            f.checked_at,
            f.changed_at,
            f.last_error,
            int(counts.get(f.id, 0)),
        )
        for f in await session.scalars(select(EventFeed).order_by(EventFeed.id))
    ]


async def unsubscribe(session: AsyncSession, feed_id: int) -> str | None:
    """Stop following a feed; its events stay as they are (no longer tied to it). Its URL,
    or None if there is no such feed."""
    feed = await session.get(EventFeed, feed_id)
    if feed is None:
        return None
    url = feed.url
    await session.execute(update(Event).where(Event.feed_id == feed_id).values(feed_id=None))
    await session.delete(feed)
    await session.flush()
    return url
