"""`ccin-bridge jobs` and `ccin-bridge ics`: what the scheduler will do, and the events feed.

`jobs` lists what scheduler/job_listing.py reads from the persistent job store (safe while the
bridge runs), and says which process leads, that is runs the jobs (store/leadership.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ccin_bridge.app import App
from ccin_bridge.handlers import ics
from ccin_bridge.scheduler.job_listing import job_rows
from ccin_bridge.store import reference
from ccin_bridge.store.leadership import Leader, current_leader


def describe_leader(leader: Leader | None, zone: ZoneInfo) -> str:
    if leader is None:
        return "leader: none (no bridge process runs the scheduled jobs now)"
    if leader.backend == "sqlite":
        return "leader: the one bridge process on this SQLite database, while it runs"
    where = [f"PostgreSQL pid {leader.pid}"]
    if leader.client_addr:
        where.append(f"from {leader.client_addr}")
    if leader.backend_start:
        where.append(f"connected {leader.backend_start.astimezone(zone):%a %d %b %Y %H:%M %Z}")
    return f"leader: {leader.application_name or 'a process with no name'} ({', '.join(where)})"


async def jobs(args: argparse.Namespace, app: App) -> int:
    zone = app.settings.zone
    rows = await job_rows(app.db.url, app.settings)
    async with app.db.read() as session:
        leader = await current_leader(session)
    if args.json:
        print(
            json.dumps(
                {
                    "leader": leader.as_dict() if leader else None,
                    "jobs": [
                        {
                            "id": r.id,
                            "name": r.name,
                            "next_run": (
                                r.next_run.astimezone(zone).isoformat() if r.next_run else None
                            ),
                            "schedule": r.schedule,
                            "stored": r.stored,
                        }
                        for r in rows
                    ],
                },
                indent=2,
            )
        )
        return 0
    print(describe_leader(leader, zone))
    if not rows:
        print("no scheduled jobs")
        return 0
    width = max(len(r.id) for r in rows)
    now = datetime.now(zone)
    grace = app.settings.schedules.misfire_grace_minutes
    for r in rows:
        when = f"{r.next_run.astimezone(zone):%a %d %b %Y %H:%M %Z}" if r.next_run else "paused"
        note = "" if r.stored else "  (not stored yet: starts with `ccin-bridge run`)"
        if r.stored and r.next_run is not None and r.next_run < now:
            note = (
                "  (overdue: the bridge is not running; it runs once on start if within "
                f"{grace} minutes of this time, else waits for its next time)"
            )
        print(f"{when:<25} {r.id:<{width}}  {r.name}  [{r.schedule}]{note}")
    print(f"times in {zone.key}")
    return 0


async def feed(args: argparse.Namespace, app: App) -> int:
    async with app.db.session() as session:
        events = await reference.events(session)
    content = ics.calendar(
        events, zone=app.settings.zone, now=datetime.now(UTC), name=app.settings.network_name
    )
    count = content.count(b"BEGIN:VEVENT")
    if args.out is None:
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return 0
    try:
        await asyncio.to_thread(Path(args.out).write_bytes, content)
    except OSError as exc:
        print(f"ccin-bridge: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"{count} events written to {args.out}")
    return 0
