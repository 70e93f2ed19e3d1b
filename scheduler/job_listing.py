"""What the scheduler will do: every scheduled job and its next run, read from the persistent
job store through APScheduler's job-store API without starting a scheduler (so it is safe
while the bridge runs), for `ccin-bridge jobs` and the web console's Jobs page. Jobs the
bridge has not stored yet (it never ran) are shown as they will be scheduled."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import URL

from ccin_bridge.handlers.config import Settings
from ccin_bridge.scheduler.job_store import BridgeJobStore
from ccin_bridge.scheduler.service import jobs_url, scheduled_jobs


@dataclass(frozen=True)
class JobRow:
    id: str
    name: str
    next_run: datetime | None  # None: paused
    schedule: str
    stored: bool


def stored_jobs(database_url: str | URL) -> list[JobRow] | None:
    """The jobs in the persistent store, or None when the store does not exist yet."""
    store = BridgeJobStore(jobs_url(database_url))
    try:
        jobs = store.stored()
    finally:
        store.shutdown()
    if jobs is None:
        return None
    return [JobRow(job.id, job.name, job.next_run_time, str(job.trigger), True) for job in jobs]


async def job_rows(database_url: str | URL, settings: Settings) -> list[JobRow]:
    """Stored jobs, plus declared jobs not stored yet (with the time they would first fire),
    soonest first. The store is read in a thread: its driver is synchronous."""
    stored = await asyncio.to_thread(stored_jobs, database_url) or []
    known = {row.id for row in stored}
    now = datetime.now(settings.zone)
    pending = [
        JobRow(s.id, s.name, s.trigger.get_next_fire_time(None, now), str(s.trigger), False)
        for s in scheduled_jobs(settings)
        if s.id not in known
    ]
    rows = stored + pending
    rows.sort(key=lambda r: (r.next_run is None, r.next_run or now, r.id))
    return rows
