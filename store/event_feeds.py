"""Subscribed calendar feeds: which there are, which are due, and a fetched copy applied.

Applying a feed is the events import (events are found by their calendar UID, so a changed,
renamed or moved event is updated in place), then the feed's bookkeeping: its events carry
its id; one the feed no longer has is marked cancelled (never deleted: no reminder goes out
for it, and its history stays), and one it brings back is planned again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.feed_list import subscribe as subscribe  # its home before feed_list
from ccin_bridge.store.importers import ImportReport, import_file, read_ics
from ccin_bridge.store.importers_ics import IcsEvent, IcsProblem
from ccin_bridge.store.models import Event, EventFeed


def _length(column: Any) -> int:
    length = column.type.length
    assert isinstance(length, int)
    return length


ETAG_MAX = _length(EventFeed.__table__.c.etag)  # the columns' sizes, as the model says
DATE_MAX = _length(EventFeed.__table__.c.last_modified)
UID_BATCH = 5_000  # UIDs per IN list (PostgreSQL's driver takes at most 32,767 parameters)


@dataclass(frozen=True)
class FeedResult:
    report: ImportReport | None  # None: the feed had not changed
    cancelled: int = 0
    restored: int = 0
    kept_because: str | None = None  # why nothing gone from this copy was marked cancelled

    def summary(self) -> str:
        if self.report is None:
            return "not changed since the last fetch"
        text = self.report.summary().removesuffix(".")  # one full stop, at the end
        extra = [
            f"{n} {'event' if n == 1 else 'events'} {what}"
            for n, what in (
                (self.cancelled, "no longer in the feed: marked cancelled"),
                (self.restored, "back in the feed"),
            )
            if n
        ]
        if self.kept_because is not None:
            extra.append(f"nothing marked cancelled, as {self.kept_because}")
        return "; ".join([text, *extra]) + "."


async def _due(session: AsyncSession, now: datetime) -> list[EventFeed]:
    """Feeds with an interval whose last check is at least that long ago (or never was)."""
    feeds = await session.scalars(
        select(EventFeed)
        .where(EventFeed.every_minutes.is_not(None))
        .order_by(EventFeed.checked_at.is_not(None), EventFeed.checked_at, EventFeed.id)
    )
    return [
        feed
        for feed in feeds
        if feed.checked_at is None
        or feed.checked_at + timedelta(minutes=feed.every_minutes or 0) <= now
    ]


async def last_error(session: AsyncSession, feed_id: int) -> str | None:
    return await session.scalar(select(EventFeed.last_error).where(EventFeed.id == feed_id))


@dataclass(frozen=True)
class FeedState:
    """What a fetch needs: where, and the validators of the last one."""

    id: int
    url: str
    etag: str | None
    last_modified: str | None


async def state(session: AsyncSession, feed_id: int) -> FeedState | None:
    feed = await session.get(EventFeed, feed_id)
    if feed is None:
        return None
    return FeedState(feed.id, feed.url, feed.etag, feed.last_modified)


async def due_ids(session: AsyncSession, now: datetime) -> list[int]:
    """Feeds with an interval whose last check is at least that long ago (or never was)."""
    return [feed.id for feed in await _due(session, now)]


async def checked(
    session: AsyncSession,
    feed_id: int,
    now: datetime,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    changed: bool = False,
    error: str | None = None,
) -> None:
    """Note a check: its time, and the new validators, or why it failed (keeping the old)."""
    feed = await session.get(EventFeed, feed_id)
    if feed is None:
        return
    feed.checked_at = now
    feed.last_error = error
    if error is None:
        feed.etag, feed.last_modified = _fits(etag, ETAG_MAX), _fits(last_modified, DATE_MAX)
    if changed:
        feed.changed_at = now


def _fits(validator: str | None, limit: int) -> str | None:
    # A validator longer than its column is not kept: the next fetch is a plain one, where
    # storing it would fail the whole check (PostgreSQL refuses it) every time.
    return validator if validator is not None and len(validator) <= limit else None


def _day(moment: object, zone: ZoneInfo) -> date | None:
    if isinstance(moment, datetime):
        return (moment.astimezone(zone) if moment.tzinfo else moment).date()
    return moment if isinstance(moment, date) else None


async def apply(session: AsyncSession, feed_id: int, path: Path, zone: ZoneInfo) -> FeedResult:
    """Import the fetched copy at `path` and keep the feed's events in step with it."""
    found = await read_ics(path)  # once, and off the event loop
    report = await import_file(session, "events", path, zone=zone, calendar=found)
    present: dict[tuple[str, date | None], bool] = {}  # (uid, date replaced) -> cancelled
    for item in found:
        if isinstance(item, IcsEvent) and isinstance(uid := item.fields.get("uid"), str):
            key = (uid, _day(item.fields.get("recurrence_on"), zone))
            present[key] = item.fields.get("status") == "cancelled"
    uids = sorted({uid for uid, _ in present})
    rows = {
        event.id: event
        for event in await session.scalars(select(Event).where(Event.feed_id == feed_id))
    }
    for start in range(0, len(uids), UID_BATCH):  # drivers limit a query's parameters
        batch = uids[start : start + UID_BATCH]
        for event in await session.scalars(select(Event).where(Event.uid.in_(batch))):
            rows[event.id] = event
    kept_because = await _why_not_cancel(found, report, path)
    cancelled = restored = 0
    for event in rows.values():
        key = (event.uid or "", event.recurrence_on)
        if key in present:
            event.feed_id = feed_id
            if event.status == "cancelled" and not present[key]:
                event.status = "planned"
                restored += 1
        elif kept_because is None and event.feed_id == feed_id and event.status != "cancelled":
            event.status = "cancelled"
            cancelled += 1
    await session.flush()
    return FeedResult(report, cancelled, restored, kept_because)


async def _why_not_cancel(
    found: list[IcsEvent | IcsProblem], report: ImportReport, path: Path
) -> str | None:
    """Why this copy cannot say which events were dropped, if it cannot: a server that
    answers an empty calendar, a cut-off download (read as far as it goes) or a row that
    cannot be read would otherwise cancel events the feed still has."""
    if not any(isinstance(item, IcsEvent) for item in found):
        return "the feed had no events"
    if not await asyncio.to_thread(_closed, path):
        return "the file was cut short (it does not end with END:VCALENDAR)"
    problems = len(report.errors) or sum(isinstance(item, IcsProblem) for item in found)
    if problems:
        return f"{'1 event' if problems == 1 else f'{problems} events'} could not be read"
    return None


def _closed(path: Path) -> bool:
    with path.open("rb") as file:
        file.seek(max(0, file.seek(0, 2) - 64))
        tail = file.read().rstrip().upper()
    return tail.endswith(b"END:VCALENDAR")
