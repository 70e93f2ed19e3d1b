"""The scheduler: configured once, in the network's time zone, running module-level jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from handlers.config import Settings
from handlers.core import Bridge
from scheduler import jobs, runtime
from scheduler.service import build_scheduler
from store import callbacks
from store.models import CallbackToken


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
