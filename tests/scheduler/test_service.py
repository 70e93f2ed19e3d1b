"""The scheduler: configured once, in the network's time zone, running module-level jobs."""

from __future__ import annotations

import asyncio
import pickle
from datetime import UTC, datetime, timedelta

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import column, create_engine, select, table, update

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.scheduler import jobs, reminder_jobs, runtime
from ccin_bridge.scheduler.service import JobSpec, build_scheduler, jobs_url, sync_url
from ccin_bridge.store import audit, callbacks
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import CallbackToken


def test_scheduler_uses_the_network_time_zone(settings: Settings) -> None:
    scheduler = build_scheduler(settings)
    job = scheduler.get_job("purge-button-state")
    assert job is not None
    assert str(job.trigger.timezone) == "Europe/London"
    assert job.func is jobs.purge_button_state  # module-level, so a job store can pickle it


async def test_purge_job_forgets_old_button_state(bridge: Bridge) -> None:
    async with bridge.db.session() as session:
        old = await callbacks.save_action(session, "search old")
        fresh = await callbacks.save_action(session, "search fresh")
    async with bridge.db.session() as session:
        await session.execute(
            update(CallbackToken)
            .where(CallbackToken.token == old)
            .values(created_at=datetime.now(UTC) - timedelta(days=8))
        )
    runtime.install(runtime.Runtime(bridge=bridge))
    try:
        assert await jobs.purge_button_state() == 1
    finally:
        runtime.uninstall()
    assert await bridge.decode_action("#" + old) is None
    assert await bridge.decode_action("#" + fresh) == "search fresh"


# --- the persistent job store: restarts, misfires, stable ids ------------------------------

RUNS: list[str] = []


async def probe(label: str) -> None:
    """A module-level job the store can keep by reference."""
    RUNS.append(label)


def _probe(trigger: BaseTrigger) -> JobSpec:
    return JobSpec("probe", probe, trigger, "Probe", ("ran",))


def _daily(settings: Settings) -> CronTrigger:
    return CronTrigger(hour=3, minute=17, timezone=settings.zone)


async def _stop_then_restart(
    url: str, settings: Settings, spec: JobSpec, due_ago: timedelta
) -> tuple[int, AsyncIOScheduler]:
    """Run 1 stores the job and stops with its next run `due_ago` before the restart; run 2
    starts and reports the first thing that happened to the job (executed or missed)."""
    first = build_scheduler(settings, url, specs=[spec])
    first.start(paused=True)
    first.modify_job(spec.id, next_run_time=datetime.now(UTC) - due_ago)
    first.shutdown(wait=False)

    RUNS.clear()
    outcome: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def seen(event: JobExecutionEvent) -> None:
        if event.job_id == spec.id and not outcome.done():
            outcome.set_result(event.code)

    second = build_scheduler(settings, url, specs=[spec])
    second.add_listener(seen, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    second.start()
    async with asyncio.timeout(10):
        code = await outcome
    return code, second


def _with_grace(settings: Settings, minutes: int) -> Settings:
    schedules = settings.schedules.model_copy(
        update={"misfire_grace_minutes": minutes, "reminder_check_minutes": min(15, minutes)}
    )
    return settings.model_copy(update={"schedules": schedules})


async def test_a_job_missed_within_the_grace_runs_once_after_restart(
    settings: Settings, database_url: str
) -> None:
    settings = _with_grace(settings, 60)
    code, scheduler = await _stop_then_restart(
        database_url, settings, _probe(_daily(settings)), timedelta(minutes=30)
    )
    try:
        assert code == EVENT_JOB_EXECUTED
        assert RUNS == ["ran"]
        job = scheduler.get_job("probe")
        assert job is not None and job.next_run_time > datetime.now(UTC)  # tomorrow, not again
    finally:
        scheduler.shutdown(wait=False)


async def test_a_job_missed_beyond_the_grace_does_not_run(
    settings: Settings, database_url: str
) -> None:
    settings = _with_grace(settings, 60)
    code, scheduler = await _stop_then_restart(
        database_url, settings, _probe(_daily(settings)), timedelta(minutes=90)
    )
    try:
        assert code == EVENT_JOB_MISSED
        assert RUNS == []
        job = scheduler.get_job("probe")
        assert job is not None and job.next_run_time > datetime.now(UTC)
    finally:
        scheduler.shutdown(wait=False)


async def test_a_run_cut_short_by_a_crash_is_made_again_at_the_next_start(
    settings: Settings, database_url: str
) -> None:
    """APScheduler stores the next run time as it hands a run over: a leader that died while
    the run was under way left the job pointing at tomorrow, and the run was lost."""
    settings = _with_grace(settings, 60)
    began = datetime.now(settings.zone) - timedelta(minutes=10)
    spec = _probe(CronTrigger(hour=began.hour, minute=began.minute, timezone=settings.zone))
    first = build_scheduler(settings, database_url, specs=[spec])
    first.start(paused=True)  # stored as a run handed over leaves it: next run tomorrow
    stored = first.get_job("probe")
    assert stored is not None and stored.next_run_time > datetime.now(UTC)
    first.shutdown(wait=False)

    RUNS.clear()
    ran: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def seen(event: JobExecutionEvent) -> None:
        if event.job_id == "probe" and not ran.done():
            ran.set_result(event.code)

    second = build_scheduler(settings, database_url, specs=[spec])
    second.add_listener(seen, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    second.start()
    try:
        async with asyncio.timeout(10):
            assert await ran == EVENT_JOB_EXECUTED
        assert RUNS == ["ran"]
        job = second.get_job("probe")
        assert job is not None and job.next_run_time > datetime.now(UTC)  # then tomorrow
    finally:
        second.shutdown(wait=False)


async def test_several_missed_runs_collapse_into_one(settings: Settings, sqlite_url: str) -> None:
    every_ten = IntervalTrigger(minutes=10, timezone=settings.zone)
    code, scheduler = await _stop_then_restart(
        sqlite_url, settings, _probe(every_ten), timedelta(minutes=35)
    )
    try:
        assert code == EVENT_JOB_EXECUTED
        assert RUNS == ["ran"]  # not four times
    finally:
        scheduler.shutdown(wait=False)


async def test_jobs_survive_a_restart_with_stable_ids(settings: Settings, sqlite_url: str) -> None:
    first = build_scheduler(settings, sqlite_url)
    first.start(paused=True)
    stored = {job.id: job.next_run_time for job in first.get_jobs()}
    first.shutdown(wait=False)
    assert {"purge-button-state", "event-reminders"} <= stored.keys()

    again = build_scheduler(settings, sqlite_url)
    again.start(paused=True)
    try:
        jobs_now = {job.id: job for job in again.get_jobs()}
        assert jobs_now.keys() == stored.keys()  # replaced, not duplicated
        assert jobs_now["purge-button-state"].next_run_time == stored["purge-button-state"]
        assert jobs_now["event-reminders"].func is reminder_jobs.send_event_reminders
    finally:
        again.shutdown(wait=False)


async def test_a_changed_schedule_replaces_the_stored_time(
    settings: Settings, sqlite_url: str
) -> None:
    await _stop_then_restart(sqlite_url, settings, _probe(_daily(settings)), timedelta(0))
    moved = _probe(CronTrigger(hour=23, minute=5, timezone=settings.zone))
    scheduler = build_scheduler(settings, sqlite_url, specs=[moved])
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job("probe")
        assert job is not None
        local = job.next_run_time.astimezone(settings.zone)
        assert (local.hour, local.minute) == (23, 5)
    finally:
        scheduler.shutdown(wait=False)


async def test_jobs_no_longer_declared_are_removed(settings: Settings, sqlite_url: str) -> None:
    first = build_scheduler(settings, sqlite_url, specs=[_probe(_daily(settings))])
    first.start(paused=True)
    first.shutdown(wait=False)
    second = build_scheduler(settings, sqlite_url)
    second.start(paused=True)
    try:
        assert second.get_job("probe") is None
    finally:
        second.shutdown(wait=False)


async def test_jobs_stored_before_the_one_package_move_keep_their_next_run(
    settings: Settings, database_url: str
) -> None:
    """Before 0.2 a job named its function `scheduler.jobs:…`; APScheduler would drop it."""
    first = build_scheduler(settings, database_url)
    first.start(paused=True)
    due = datetime(2030, 1, 2, 3, 17, tzinfo=UTC)
    first.modify_job("purge-button-state", next_run_time=due)
    first.shutdown(wait=False)
    engine = create_engine(jobs_url(database_url))
    jobs_t = table("apscheduler_jobs", column("id"), column("job_state"))
    with engine.begin() as connection:
        rows = connection.execute(select(jobs_t.c.id, jobs_t.c.job_state)).all()
        for job_id, raw in rows:
            state = pickle.loads(raw)
            assert state["func"].startswith("ccin_bridge.scheduler.")
            state["func"] = state["func"].removeprefix("ccin_bridge.")
            old = pickle.dumps(state)
            connection.execute(update(jobs_t).where(jobs_t.c.id == job_id).values(job_state=old))

    again = build_scheduler(settings, database_url)
    again.start(paused=True)
    try:
        restored = {job.id: job for job in again.get_jobs()}
        assert restored.keys() == {job_id for job_id, _ in rows}  # none dropped
        assert restored["purge-button-state"].next_run_time == due
        assert restored["purge-button-state"].func is jobs.purge_button_state
    finally:
        again.shutdown(wait=False)
    with engine.connect() as connection:
        stored = connection.execute(select(jobs_t.c.job_state)).scalars().all()
    engine.dispose()
    assert all(pickle.loads(raw)["func"].startswith("ccin_bridge.") for raw in stored)


def test_job_store_urls_are_the_bridge_database_in_sync_form() -> None:
    assert sync_url("sqlite+aiosqlite:////tmp/x.sqlite3") == "sqlite:////tmp/x.sqlite3"
    assert (
        sync_url("postgresql://postgres:pw@127.0.0.1:5432/test")
        == "postgresql+psycopg://postgres:pw@127.0.0.1:5432/test"
    )


def test_every_declared_job_is_registered_in_the_network_zone(settings: Settings) -> None:
    scheduler = build_scheduler(settings)
    ids = {job.id for job in scheduler.get_jobs()}
    digests = {f"digest:{a.slug}" for a in settings.audiences}
    assert {"purge-button-state", "event-reminders", "news-reminder"} | digests <= ids
    digest = scheduler.get_job("digest:officers")
    assert digest is not None and digest.args == ("officers",)
    assert str(digest.trigger.timezone) == "Europe/London"


async def test_the_job_store_never_waits_for_the_bridges_writers(
    settings: Settings, sqlite_url: str
) -> None:
    """APScheduler writes its store synchronously on the event loop: in the bridge's own SQLite
    file that write waited for an async writer's lock (blocking the loop that must release it)
    and failed with "database is locked" after the busy timeout, stopping the scheduler."""
    db = Database(sqlite_url)
    await db.upgrade()
    scheduler = build_scheduler(settings, sqlite_url, specs=[_probe(_daily(settings))])
    store = scheduler._jobstores["default"]
    scheduler.start(paused=True)  # the jobs go into the store
    try:
        async with db.session() as session:  # an async writer holds SQLite's lock...
            await audit.record(session, actor_id=None, action="test.hold")
            await session.flush()
            job = store.lookup_job("probe")
            assert job is not None
            store.update_job(job)  # ...and the job store's write goes through at once
    finally:
        scheduler.shutdown(wait=False)
        await db.close()
