"""The scheduled digest and news reminder: registered by id, sent once however often they fire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from ccin_bridge.handlers import digest
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.scheduler import push_jobs, runtime
from ccin_bridge.scheduler.service import scheduled_jobs
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Push
from tests.conftest import Clock
from tests.handlers.push_support import ADA, ALEX, SAM, deliver, push_bridge, say, says


@pytest.fixture
async def jobs_bridge(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> AsyncIterator[Bridge]:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await say(bridge, ADA, "/start")
    await say(bridge, ALEX, "/subscribe digest:officers")
    await say(bridge, SAM, "/subscribe digest:leaders")
    runtime.install(runtime.Runtime(bridge=bridge))
    try:
        yield bridge
    finally:
        runtime.uninstall()


async def _keys(bridge: Bridge) -> list[str]:
    async with bridge.db.session() as session:
        return [str(k) for k in await session.scalars(select(Push.key).order_by(Push.id)) if k]


def test_the_jobs_are_registered_per_audience_with_string_args(settings: Settings) -> None:
    specs = {s.id: s for s in scheduled_jobs(settings)}
    officers = specs["digest:officers"]
    assert officers.func is push_jobs.send_monthly_digest and officers.args == ("officers",)
    assert {f"digest:{a.slug}" for a in settings.audiences} <= specs.keys()
    assert specs["news-reminder"].func is push_jobs.send_news_reminder
    assert "day='20'" in str(specs["news-reminder"].trigger)


def test_editions_follow_the_schedule(settings: Settings) -> None:
    zone = settings.zone
    before = datetime(2026, 12, 1, 8, 59, tzinfo=zone)
    at = datetime(2026, 12, 1, 9, 0, tzinfo=zone)
    assert digest.scheduled_edition(settings, at) == date(2026, 12, 1)
    assert digest.scheduled_edition(settings, before) == date(2026, 11, 1)
    assert digest.next_edition(settings, before) == date(2026, 12, 1)
    assert digest.next_edition(settings, at) == date(2027, 1, 1)
    # Across the year end and in summer time (digest_time is London time).
    assert digest.next_edition(settings, datetime(2027, 7, 1, 8, 30, tzinfo=UTC)) == date(
        2027, 8, 1
    )


async def test_a_digest_job_firing_twice_sends_once(jobs_bridge: Bridge, clock: Clock) -> None:
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    first = await push_jobs.send_monthly_digest("officers")
    again = await push_jobs.send_monthly_digest("officers")
    assert first is not None and again is None
    assert await _keys(jobs_bridge) == ["digest:officers:2026-12"]
    sent = await deliver(jobs_bridge.db)
    assert len(sent.to("alex")) == 1 and sent.to("sam") == []
    assert sent.to("ada") == []  # nobody created it, so no delivery report


async def test_an_early_send_makes_the_scheduled_run_skip(
    jobs_bridge: Bridge, clock: Clock
) -> None:
    assert "Queued the December 2026" in says(await say(jobs_bridge, ADA, "/digest send officers"))
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert await push_jobs.send_monthly_digest("officers") is None
    assert await push_jobs.send_monthly_digest("leaders") is not None
    assert await _keys(jobs_bridge) == ["digest:officers:2026-12", "digest:leaders:2026-12"]


async def test_the_news_reminder_goes_once_to_digest_readers(
    jobs_bridge: Bridge, clock: Clock
) -> None:
    clock.now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert await push_jobs.send_news_reminder() is not None
    assert await push_jobs.send_news_reminder() is None
    sent = await deliver(jobs_bridge.db)
    [alex], [sam] = sent.to("alex"), sent.to("sam")
    assert "by the 24th (Tuesday 24 November 2026) for the December 2026 digest" in alex.plain_text
    assert alex == sam and sent.to("ada") == []  # Ada takes no digest
    assert [b.action for row in alex.buttons for b in row] == ["news"]
    assert await _keys(jobs_bridge) == ["news-reminder:2026-11"]


async def test_an_unknown_audience_is_skipped(jobs_bridge: Bridge) -> None:
    assert await push_jobs.send_monthly_digest("retired") is None
    assert await _keys(jobs_bridge) == []
