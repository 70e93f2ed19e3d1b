"""One APScheduler for every platform (PTB's JobQueue would serve Telegram alone)."""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from handlers.config import Settings
from scheduler import jobs


def build_scheduler(settings: Settings) -> AsyncIOScheduler:
    zone = settings.zone
    scheduler = AsyncIOScheduler(
        timezone=zone,
        job_defaults={
            "coalesce": True,  # several missed runs collapse into one
            "max_instances": 1,
            "misfire_grace_time": settings.schedules.misfire_grace_minutes * 60,
        },
    )
    scheduler.add_job(
        jobs.purge_button_state,
        CronTrigger(hour=3, minute=17, timezone=zone),
        id="purge-button-state",
        name="Forget expired button state",
        replace_existing=True,
    )
    return scheduler
