"""/events reads only the window it shows, and shows what reading every event showed.

The oracle below is /events as it was before the window: every event read and expanded, each
series' next two dates, every one-off event still to come, in order; the three latest past
events when no one-off is to come. Events here are fictional, inserted by the tests.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert

from ccin_bridge.handlers.commands import events as events_command
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.dates import INACTIVE, upcoming
from ccin_bridge.handlers.replies import BulletList, Reply
from ccin_bridge.store import reference
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Event
from ccin_bridge.store.records import EventRecord
from tests.conftest import Clock, ask

SHOWN = events_command.SHOWN
THURSDAY = date(2026, 12, 3)


def _bullets(reply: Reply) -> list[list[str]]:
    return [
        ["".join(s.text for s in item) for item in block.items]
        for block in reply.blocks
        if isinstance(block, BulletList)
    ]


def _text(spans: tuple[Any, ...]) -> str:
    return "".join(s.text for s in spans)


async def _oracle(db: Database, today: date) -> tuple[list[str], list[str]]:
    """The lines /events showed by reading every event: what is coming, and the recent ones."""
    async with db.read() as session:
        every = await reference.events(session)
    coming = upcoming(every, today, per_series=2)
    recent: list[EventRecord] = []
    if not any(not o.recurring for o in coming):
        # dated ones and those known only to their month, by the day they ended
        done = [
            e
            for e in every
            if not e.rrule
            and e.status not in INACTIVE
            and (end := reference.last_day(e)) is not None
            and end < today
        ]
        done.sort(key=lambda e: e.title)
        done.sort(key=lambda e: reference.last_day(e) or date.min, reverse=True)
        recent = done[:3]
    recent_lines = [e.title + events_command._when_past(e) for e in recent]
    return [_text(events_command._line(o)) for o in coming], recent_lines


async def _many_events(db: Database, n: int, seed: int) -> None:
    rng = random.Random(seed)
    rules = ("FREQ=WEEKLY;BYDAY=WE", "FREQ=MONTHLY;BYDAY=2TU", "FREQ=MONTHLY;BYMONTHDAY=15")
    rows: list[dict[str, Any]] = []
    for i in range(n):
        row: dict[str, Any] = {
            "title": f"Exampleton gathering {i:04d}",
            "summary": "A fictional test event.",
            "source": "test",
            "status": rng.choice(["planned", "planned", "held", "cancelled", "superseded"]),
            "starts_on": date(2024, 1, 1) + timedelta(days=rng.randrange(1400)),
            "start_time": rng.choice([None, time(10), time(18, 30)]),
        }
        if rng.random() < 0.2:
            row["ends_on"] = row["starts_on"] + timedelta(days=rng.randrange(1, 5))
        if rng.random() < 0.03:
            row |= {"rrule": rng.choice(rules), "starts_on": rng.choice([None, date(2025, 1, 6)])}
        rows.append(row)
    async with db.session() as session:
        await session.execute(insert(Event), rows)


@contextmanager
def counting() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", count)


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 11, 22, 12, tzinfo=UTC),
        datetime(2024, 9, 21, 9, tzinfo=UTC),  # the seeds' one-off events are still to come
        datetime(2027, 6, 1, 23, 30, tzinfo=UTC),
    ],
)
async def test_the_seeded_calendar_reads_as_it_always_did(
    bridge: Bridge, sqlite_db: Database, clock: Clock, now: datetime
) -> None:
    clock.now = now
    (reply,) = await bridge.handle(ask("events"))
    coming, recent = await _oracle(sqlite_db, now.astimezone(bridge.settings.zone).date())
    assert len(coming) <= SHOWN  # so nothing is cut: the whole output is as before
    assert _bullets(reply) == ([coming, recent] if recent else [coming])
    assert "more are announced" not in reply.plain_text


async def test_a_large_calendar_shows_the_first_dates_from_a_bounded_read(
    bridge: Bridge, sqlite_db: Database, clock: Clock
) -> None:
    await _many_events(sqlite_db, 2000, seed=13)
    today = clock.now.astimezone(bridge.settings.zone).date()
    coming, _ = await _oracle(sqlite_db, today)
    assert len(coming) > 300  # what reading everything would have listed
    with counting() as statements:
        (reply,) = await bridge.handle(ask("events"))
    assert _bullets(reply) == [coming[:SHOWN]]
    assert f"These are the next {SHOWN} dates" in reply.plain_text
    assert len({b.action for row in reply.buttons for b in row}) <= SHOWN
    event_reads = [s for s in statements if "FROM events" in s]
    assert len(event_reads) == 2  # when the candidates are, then the records of those shown
    async with sqlite_db.read() as session:
        dated = await reference.coming_event_dates(session, today, first=SHOWN + 1)
        # every series but a cancelled one: only its rule says when it next meets
        series = [e for e in await reference.events(session) if e.rrule and e.status != "cancelled"]
    one_offs = [e for e in dated if not e.rrule]
    # The window: the first SHOWN + 1 one-off events to come, and those sharing the last's day.
    last_day = max(e.starts_on for e in one_offs if e.starts_on)
    assert len([e for e in one_offs if e.starts_on != last_day]) < SHOWN + 1 <= len(one_offs)
    assert len(dated) == len(one_offs) + len(series)


async def test_a_day_fuller_than_the_window_is_read_whole_and_shown_in_order(
    bridge: Bridge, sqlite_db: Database, clock: Clock
) -> None:
    letters = "ABCDEFGHIJKLM"  # more than the window, inserted last to first
    async with sqlite_db.session() as session:
        await session.execute(
            insert(Event),
            [
                {"title": f"Same-day {c}", "summary": "", "source": "test", "starts_on": THURSDAY}
                for c in reversed(letters)
            ],
        )
    clock.now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    (reply,) = await bridge.handle(ask("events"))
    coming, _ = await _oracle(sqlite_db, date(2026, 12, 2))
    assert _bullets(reply) == [coming[:SHOWN]]
    assert _bullets(reply)[0] == [
        f"Thursday 3 December 2026 — Same-day {c}" for c in letters[:SHOWN]
    ]
    async with sqlite_db.read() as session:
        dated = await reference.coming_event_dates(session, date(2026, 12, 2), first=SHOWN + 1)
    assert sorted(e.title for e in dated if not e.rrule) == [f"Same-day {c}" for c in letters]
