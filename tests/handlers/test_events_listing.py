"""/events with the seeded calendar: past events known only to their month, multi-day events
with their end, and a cancelled series left out."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import insert, update

from ccin_bridge.handlers.commands.events import day_range
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.replies import BulletList, Reply
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Event
from tests.conftest import Clock, ask


def _bullets(reply: Reply) -> list[list[str]]:
    return [
        ["".join(s.text for s in item) for item in block.items]
        for block in reply.blocks
        if isinstance(block, BulletList)
    ]


async def test_most_recent_includes_the_2025_events_known_only_to_their_month(
    bridge: Bridge, clock: Clock
) -> None:
    clock.now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    (reply,) = await bridge.handle(ask("events"))
    *_, recent = _bullets(reply)
    # The seeds give the July 2025 LGA conference and Co-operative Congress their month only.
    assert recent == [
        "Co-operative Congress — July 2025",
        "LGA Conference and Exhibition — July 2025",
        "UKREiiF — May 2025",
    ]


async def test_a_multi_day_event_shows_its_end(
    bridge: Bridge, sqlite_db: Database, clock: Clock
) -> None:
    async with sqlite_db.session() as session:
        await session.execute(
            insert(Event),
            [
                {
                    "title": "Exampleton Co-operative Summit",
                    "starts_on": date(2026, 12, 9),
                    "ends_on": date(2026, 12, 10),
                    "summary": "",
                    "source": "test",
                }
            ],
        )
    clock.now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    (reply,) = await bridge.handle(ask("events"))
    (coming,) = _bullets(reply)
    assert (
        "Wednesday 9 December 2026 to Thursday 10 December 2026 — Exampleton Co-operative Summit"
        in coming
    )


async def test_a_cancelled_series_is_not_listed(
    bridge: Bridge, sqlite_db: Database, clock: Clock
) -> None:
    clock.now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    (before,) = await bridge.handle(ask("events"))
    assert "Officer Network monthly meeting" in before.plain_text
    async with sqlite_db.session() as session:
        await session.execute(
            update(Event).where(Event.rrule.is_not(None)).values(status="cancelled")
        )
    (after,) = await bridge.handle(ask("events"))
    assert "Officer Network monthly meeting" not in after.plain_text


def test_day_ranges_read_as_people_write_them() -> None:
    assert day_range(date(2024, 7, 2), None) == "2 Jul 2024"
    assert day_range(date(2024, 7, 2), date(2024, 7, 4)) == "2–4 Jul 2024"
    assert day_range(date(2024, 6, 30), date(2024, 7, 2)) == "30 Jun – 2 Jul 2024"
    assert day_range(date(2024, 12, 30), date(2025, 1, 2)) == "30 Dec 2024 – 2 Jan 2025"
