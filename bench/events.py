"""/events benchmark: the real command through the Bridge, with 32, 1,000 and 10,000 events.

    .venv/bin/python -m bench.events                      # SQLite, and PostgreSQL when reachable
    .venv/bin/python -m bench.events --sizes 32,10000 --no-postgres --repeat 50

Each size gets a fresh database, migrated and seeded with the network's reference data (its
32 real events: one-off events, mostly past, and the Officer Network's monthly meeting), then
topped up to the size with made-up events from a seeded RNG: 95% one-off, spread from 2012 to
two years after the benchmark's day (so about one in seven is still to come), a few cancelled,
superseded or undated; 5% recurring (weekly, fortnightly, monthly on a weekday, yearly), a
third of them with a time. The clock is fixed at 22 November 2026, 12:00 UTC.

`/events` runs through `Bridge.handle` (one read-only unit of work, as a platform's message
would), `--warmup` times untimed, then `--repeat` timed; p50/p95 of the wall time per command,
and the SQL statements each run sends (a `before_cursor_execute` listener on every engine).
The first run is also given alone: recurring dates are cached per day, so it is the one a
person meets first each day. Target: p95 <= 20 ms at 10,000 events.

PostgreSQL is used when `CCIN_BENCH_POSTGRES_URL` (default
`postgresql://postgres@127.0.0.1:5432/test`) is reachable; each size creates and drops its own
`ccin_bench_*` database. A benchmark, not a test: a missed target is reported as MISSED and
the exit status is 0. The report is printed and written to `bench/events_results.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, event, func, insert, select, text

from bench.scratch import backends, database
from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import load_settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.replies import BulletList
from ccin_bridge.handlers.requests import Request
from ccin_bridge.store import seed
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Event

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "events_results.md"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TARGET_MS = 20.0
USER = UserRef("terminal", "bench", display_name="Bench Person")
RULES = (
    "FREQ=WEEKLY;BYDAY=WE",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH",
    "FREQ=MONTHLY;BYDAY=2TU",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=MONTHLY;BYMONTHDAY=15",
    "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1",
)
PLACES = ("Oldham", "Swindon", "Kirklees", "Lambeth", "Plymouth", None)


@dataclass(frozen=True)
class Timing:
    backend: str
    size: int
    first_ms: float
    p50_ms: float
    p95_ms: float
    cpu_ms: float  # p50 of this process's CPU time (SQLite's thread included; not PostgreSQL's)
    statements: float  # per run
    lines: int  # dates shown


def synthetic_events(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """`n` made-up events (see the module docstring), every title unique."""
    first, span = date(2012, 1, 1), (NOW.date() + timedelta(days=730) - date(2012, 1, 1)).days
    rows = []
    for i in range(n):
        base: dict[str, Any] = {
            "title": f"Benchmark event {i:05d}",
            "summary": "A made-up event for the /events benchmark.",
            "source": "bench",
            "location": rng.choice(PLACES),
            "online": rng.random() < 0.3,
            "url": None,
            "date_text": None,
            "ends_on": None,
            "start_time": None,
            "rrule": None,
            "duration_minutes": None,
            "status": "planned",
            "starts_on": None,
        }
        if rng.random() < 0.05:
            base |= {"rrule": rng.choice(RULES), "summary": "A made-up series."}
            if rng.random() < 0.5:
                base["starts_on"] = first + timedelta(days=rng.randrange(span // 2))
            if rng.random() < 0.33:
                base["start_time"] = clock_time(rng.choice((10, 14, 18)))
        elif rng.random() < 0.04:
            base |= {"date_text": "spring, date to be confirmed"}
        else:
            starts = first + timedelta(days=rng.randrange(span))
            base["starts_on"] = starts
            if rng.random() < 0.2:
                base["ends_on"] = starts + timedelta(days=rng.randrange(1, 4))
            if rng.random() < 0.4:
                base["start_time"] = clock_time(rng.choice((9, 10, 13, 18)), rng.choice((0, 30)))
            roll = rng.random()
            base["status"] = (
                "cancelled" if roll < 0.03 else "superseded" if roll < 0.05 else "planned"
            )
        rows.append(base)
    return rows


# Proposed for a migration (not in one yet): `--with-indexes` creates them to measure them.
PROPOSED_INDEXES = (
    "CREATE INDEX ix_events_last_day ON events ((coalesce(ends_on, starts_on)))",
    "CREATE INDEX ix_events_rrule ON events (rrule)",
)


async def prepare(url: str, size: int, seed_value: int, *, indexes: bool = False) -> None:
    db = Database(url)
    await db.upgrade()
    async with db.session() as session:
        await seed.seed(session)
        real = int(await session.scalar(select(func.count()).select_from(Event)) or 0)
        extra = synthetic_events(max(0, size - real), random.Random(seed_value))
        for start in range(0, len(extra), 2000):
            await session.execute(insert(Event), extra[start : start + 2000])
        if size < real:  # a smaller size than the seed: keep its first events
            keep = select(Event.id).order_by(Event.id).limit(size).scalar_subquery()
            await session.execute(delete(Event).where(Event.id.not_in(keep)))
        for statement in PROPOSED_INDEXES if indexes else ():
            await session.execute(text(statement))
        if not db.is_sqlite:  # as autovacuum soon would: the planner knows the table's size
            await session.execute(text("ANALYZE"))
    await db.close()


@contextmanager
def counting() -> Iterator[list[int]]:
    """SQL statements sent by every engine in this process while the block runs."""
    count = [0]

    def statement(*_args: Any) -> None:
        count[0] += 1

    event.listen(Engine, "before_cursor_execute", statement)
    try:
        yield count
    finally:
        event.remove(Engine, "before_cursor_execute", statement)


async def measure(
    backend: str, url: str, size: int, warmup: int, repeat: int, indexes: bool
) -> Timing:
    await prepare(url, size, seed_value=size, indexes=indexes)
    db = Database(url)
    bridge = Bridge(load_settings(REPO / "config.yaml"), db, all_commands(), clock=lambda: NOW)
    await bridge.start()
    request = Request(USER, ChatRef("terminal", "dm-bench"), "events", "")
    started = time.perf_counter()
    replies = await bridge.handle(request)
    first = (time.perf_counter() - started) * 1000
    lines = sum(len(b.items) for r in replies for b in r.blocks if isinstance(b, BulletList))
    for _ in range(warmup):
        await bridge.handle(request)
    samples, cpu = [], []
    with counting() as statements:
        for _ in range(repeat):
            started, cpu_started = time.perf_counter(), time.process_time()
            await bridge.handle(request)
            samples.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
    await db.close()
    return Timing(
        backend=backend,
        size=size,
        first_ms=first,
        p50_ms=statistics.median(samples),
        p95_ms=statistics.quantiles(samples, n=20)[18],
        cpu_ms=statistics.median(cpu),
        statements=statements[0] / repeat,
        lines=lines,
    )


async def run(args: argparse.Namespace) -> str:
    timings = []
    for backend in backends(not args.no_postgres):
        for size in args.sizes:
            async with database(backend) as url:
                timing = await measure(
                    backend, url, size, args.warmup, args.repeat, args.with_indexes
                )
            timings.append(timing)
            print(
                f"{backend} {size:,}: p50 {timing.p50_ms:.1f} ms, p95 {timing.p95_ms:.1f} ms",
                flush=True,
            )
    lines = [
        "| backend | events | first run | p50 | p95 | CPU p50 | SQL statements / run "
        "| dates shown | target (p95 <= 20 ms at 10,000) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for t in timings:
        verdict = ("met" if t.p95_ms <= TARGET_MS else "**MISSED**") if t.size >= 10_000 else "–"
        lines.append(
            f"| {t.backend} | {t.size:,} | {t.first_ms:.1f} ms | {t.p50_ms:.1f} ms | "
            f"{t.p95_ms:.1f} ms | {t.cpu_ms:.1f} ms | {t.statements:.1f} | {t.lines} | {verdict} |"
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join(lines) + f"\n\nLoad average during the run: {load} ({os.cpu_count()} CPUs).\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.events")
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[32, 1000, 10_000],
        help="comma-separated event counts (default 32,1000,10000)",
    )
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--with-indexes", action="store_true", help="add the indexes proposed for events first"
    )
    args = parser.parse_args()
    report = asyncio.run(run(args))
    if args.with_indexes:
        report = (
            "With the proposed indexes:\n\n"
            + "\n".join(f"    {s};" for s in PROPOSED_INDEXES)
            + "\n\n"
            + report
        )
    print(report)
    if not args.no_write and not args.with_indexes:
        RESULTS.write_text(HEAD + report, encoding="utf-8")
        print(f"written to {RESULTS.relative_to(REPO)}")


HEAD = """# /events benchmark results

`python -m bench.events` (see the module docstring for the method): the real `/events`
through `Bridge.handle`, clock fixed at 22 November 2026, 12:00 UTC; times are wall time per
command, p50/p95 over the timed runs after warm-up; "first run" is the first command on a
fresh process (recurring dates not yet cached).

"""


if __name__ == "__main__":
    main()
