"""One APScheduler for every platform (PTB's JobQueue would serve Telegram alone).

Jobs live in the bridge's database (`apscheduler_jobs`, created and owned by APScheduler; on
SQLite in a file of its own beside the bridge's, see `jobs_url`), so they survive a restart.
Every job is declared in `scheduled_jobs` with a stable id and a module-level function taking
only ids. At start-up a job already stored with the same function, arguments and trigger keeps
its stored next run time: a run that fell due while the bridge was down is then made once
(coalesced) if it is at most `misfire_grace_minutes` late, and skipped if later. Re-adding it
with `replace_existing` alone would silently move it to the next future time and drop the
missed run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import obj_to_ref
from sqlalchemy import make_url
from sqlalchemy.engine import URL

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.digest import ordinal
from ccin_bridge.scheduler import feed_jobs, group_jobs, jobs, push_jobs, reminder_jobs, runtime
from ccin_bridge.scheduler.job_store import BridgeJobStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: a stable id, a module-level coroutine and its id-only arguments."""

    id: str
    func: Callable[..., Awaitable[Any]]
    trigger: BaseTrigger
    name: str
    args: tuple[str | int, ...] = ()


def sync_url(url: str | URL) -> str:
    """The synchronous URL APScheduler's job store needs, for the bridge's own database."""
    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite")
    elif backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    else:
        raise ValueError(f"no job store for a {backend!r} database")
    return parsed.render_as_string(hide_password=False)


def jobs_url(database_url: str | URL) -> str:
    """Where the job store lives. On SQLite, a file of its own beside the bridge's: APScheduler
    writes it synchronously on the event loop, and in the bridge's own file that write would
    wait for an async writer's lock while blocking the very loop that must release it (then
    fail after the busy timeout, and stop the scheduler). On PostgreSQL, the bridge's database.
    """
    parsed = make_url(database_url) if isinstance(database_url, str) else database_url
    if parsed.get_backend_name() == "sqlite" and not _in_memory(parsed):
        own = Path(str(parsed.database))
        parsed = parsed.set(database=str(own.with_name(f"{own.stem}-jobs{own.suffix}")))
    return sync_url(parsed)


def scheduled_jobs(settings: Settings) -> list[JobSpec]:
    """Everything the bridge runs on a schedule. Register new jobs here."""
    zone = settings.zone
    specs = [
        JobSpec(
            "purge-button-state",
            jobs.purge_button_state,
            CronTrigger(hour=3, minute=17, timezone=zone),
            "Forget expired button state, link codes and inbound update keys",
        ),
        JobSpec(
            "event-reminders",
            reminder_jobs.send_event_reminders,
            IntervalTrigger(minutes=settings.schedules.reminder_check_minutes, timezone=zone),
            "Queue event reminders that are due",
        ),
        JobSpec(
            "calendar-feeds",
            feed_jobs.refresh_event_feeds,
            IntervalTrigger(minutes=settings.calendar_feeds.check_minutes, timezone=zone),
            "Keep events in step with the subscribed calendar feeds",
        ),
    ]
    return specs + _group_jobs(settings) + _push_jobs(settings)


def _group_jobs(settings: Settings) -> list[JobSpec]:
    """Reconciliation with the real chats, rules reminders and retention, once a day."""
    zone, at = settings.zone, settings.schedules.reconcile_time
    daily = CronTrigger(hour=at.hour, minute=at.minute, timezone=zone)
    return [
        JobSpec("reconcile-chats", group_jobs.reconcile_chats, daily, "Check group chats"),
        JobSpec("rules-reminders", group_jobs.remind_rules, daily, "Ask to re-accept rules"),
        JobSpec(
            "retention",
            group_jobs.erase_inactive,
            CronTrigger(hour=4, minute=41, timezone=zone),
            "Erase people inactive past the retention period",
        ),
    ]


def _push_jobs(settings: Settings) -> list[JobSpec]:
    """The monthly digest per audience, and the "send your news by the 24th" reminder."""
    zone, when = settings.zone, settings.schedules
    at = {"hour": when.digest_time.hour, "minute": when.digest_time.minute, "timezone": zone}
    return [
        *(
            JobSpec(
                f"digest:{audience.slug}",
                push_jobs.send_monthly_digest,
                CronTrigger(day=when.digest_day, **at),
                f"Monthly digest for {audience.name}",
                (audience.slug,),
            )
            for audience in settings.audiences
        ),
        JobSpec(
            "news-reminder",
            push_jobs.send_news_reminder,
            CronTrigger(day=when.news_reminder_day, **at),
            f"Remind everyone to send news by the {ordinal(when.news_deadline_day)}",
        ),
    ]


def build_scheduler(
    settings: Settings,
    database_url: str | URL | None = None,
    *,
    specs: Sequence[JobSpec] | None = None,
) -> AsyncIOScheduler:
    """A scheduler in the network's time zone with every job registered (not started).

    `database_url` is the bridge's database (async or plain URL); without one, the installed
    runtime's database is used, and without that the jobs are kept in memory only.
    """
    if database_url is None:
        database_url = _runtime_database_url()
    store: BaseJobStore = (
        BridgeJobStore(jobs_url(database_url))
        if database_url is not None and not _in_memory(database_url)
        else MemoryJobStore()
    )
    scheduler = AsyncIOScheduler(
        timezone=settings.zone,
        jobstores={"default": store},
        job_defaults={
            "coalesce": True,  # several missed runs collapse into one
            "max_instances": 1,
            "misfire_grace_time": settings.schedules.misfire_grace_minutes * 60,
        },
    )
    grace = timedelta(minutes=settings.schedules.misfire_grace_minutes)
    register(scheduler, store, scheduled_jobs(settings) if specs is None else specs, grace)
    return scheduler


def register(
    scheduler: AsyncIOScheduler,
    store: BaseJobStore,
    specs: Sequence[JobSpec],
    grace: timedelta = timedelta(0),
) -> None:
    """Add every job, keeping the stored next run time of a job whose definition is unchanged,
    and drop stored jobs that are no longer declared.

    A job that fell due within `grace` before now, and whose stored next run is already the
    one after, runs again now: APScheduler moves the stored time on as it hands a run to the
    event loop, so a process that died (or was killed, or stopped) while the run was under
    way left it looking done. Every job is safe to run twice (the pushes have keys, the
    checks find nothing more to do), so when it did finish, running it again changes nothing.
    """
    stored = _stored_jobs(scheduler, store)
    wanted = {spec.id for spec in specs}
    for job_id in stored.keys() - wanted:
        log.info("removing scheduled job %r: it is no longer declared", job_id)
        store.remove_job(job_id)
    now = datetime.now(UTC)
    for spec in specs:
        keep: dict[str, datetime] = {}
        old = stored.get(spec.id)
        if old is not None and old.next_run_time is not None and _same(old, spec):
            keep["next_run_time"] = old.next_run_time
            fell_due = spec.trigger.get_next_fire_time(None, now - grace) if grace else None
            if fell_due is not None and fell_due <= now < old.next_run_time:
                log.info(
                    "%s fell due at %s and may not have finished: running it again",
                    spec.id,
                    fell_due,
                )
                keep["next_run_time"] = now
        scheduler.add_job(
            spec.func,
            spec.trigger,
            args=list(spec.args),
            id=spec.id,
            name=spec.name,
            replace_existing=True,
            **keep,
        )


def _stored_jobs(scheduler: AsyncIOScheduler, store: BaseJobStore) -> dict[str, Job]:
    if isinstance(store, MemoryJobStore):
        return {}
    store.start(scheduler, "default")  # creates the table if needed; start() does it again
    return {job.id: job for job in store.get_all_jobs()}


def _same(job: Job, spec: JobSpec) -> bool:
    return (
        job.func_ref == obj_to_ref(spec.func)
        and tuple(job.args) == spec.args
        and _describe(job.trigger) == _describe(spec.trigger)
    )


def _describe(trigger: BaseTrigger) -> str:
    return f"{trigger} {getattr(trigger, 'timezone', '')}"


def _in_memory(url: str | URL) -> bool:
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def _runtime_database_url() -> URL | None:
    try:
        return runtime.current().bridge.db.url
    except RuntimeError:
        return None
