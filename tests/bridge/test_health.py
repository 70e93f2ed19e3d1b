"""The health listener: the real app, outbox lanes and scheduler on a seeded database, asked
over real HTTP on 127.0.0.1 (an ephemeral port); only the platform is a stand-in."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ccin_bridge import health
from ccin_bridge.app import App
from ccin_bridge.background import Background
from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import ConfigError, Secrets, Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import Reply, ReplyBuilder
from ccin_bridge.health import Listener, start_listener
from ccin_bridge.scheduler.outbound import RetryLater
from ccin_bridge.store import outbox
from ccin_bridge.store.db import Database
from ccin_bridge.store.outbox import Target
from tests.conftest import ask

# The `db` fixture on PostgreSQL only.
ON_POSTGRESQL = pytest.mark.parametrize(
    "db", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


class StandInPlatform:
    """A platform adapter's part the bridge sees: sends are recorded, and a chat in `busy`
    is answered as a 429 would be."""

    platform = "terminal"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.busy: set[str] = set()

    async def start(self) -> None:
        pass

    async def stop_receiving(self, grace: float = 0) -> None:
        pass

    async def stop(self, grace: float = 0) -> None:
        pass

    async def send(self, *, chat: ChatRef, reply: Reply) -> None:
        if chat.chat_id in self.busy:
            raise RetryLater(600, "rate limited")
        self.sent.append(chat.chat_id)


@dataclass
class Running:
    app: App
    background: Background
    platform: StandInPlatform
    listener: Listener
    http: aiohttp.ClientSession

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(path) as response:
            return response.status, await response.text()

    async def ready(self) -> tuple[int, dict[str, Any]]:
        async with self.http.get("/readyz") as response:
            return response.status, await response.json()

    async def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        status, body = await self.get("/metrics")
        assert status == 200
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body)
            for s in family.samples
        }


def sample(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def _app(settings: Settings, db: Database, data_dir: Path) -> App:
    bridge = Bridge(settings, db, all_commands())
    await bridge.start()
    return App(settings, Secrets.from_env({}), db, bridge, data_dir)


@pytest.fixture
async def running(
    settings: Settings, sqlite_db: Database, tmp_path: Path
) -> AsyncIterator[Running]:
    async with _running(await _app(settings, sqlite_db, tmp_path)) as started:
        yield started


@asynccontextmanager
async def _running(app: App) -> AsyncIterator[Running]:
    """The app with its background work and the listener, as `ccin-bridge run` has them."""
    platform = StandInPlatform()
    background = Background(app, {platform.platform: platform})
    await background.start()
    listener = await start_listener(app, background, [platform], "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{listener.port}") as http:
            yield Running(app, background, platform, listener, http)
    finally:
        await listener.stop()
        await background.stop()


async def test_healthz_answers_while_the_loop_does(running: Running) -> None:
    assert running.listener.port > 0
    assert await running.get("/healthz") == (200, "ok")


async def test_a_port_in_use_is_a_configuration_error(running: Running) -> None:
    port = running.listener.port
    with pytest.raises(ConfigError, match=rf"^http: cannot listen on 127\.0\.0\.1:{port} \("):
        await start_listener(running.app, running.background, [], "127.0.0.1", port)


async def test_readyz_is_ready_when_everything_runs(running: Running) -> None:
    status, body = await running.ready()
    assert status == 200, body
    assert body["status"] == "ready" and body["failing"] == []
    checks = body["checks"]
    assert checks["database"]["ok"]
    assert checks["platform:terminal"] == {"ok": True, "detail": "started"}
    assert checks["delivery_lanes"] == {"ok": True, "detail": "running"}
    assert checks["chat_actions"]["ok"]  # no chat admin here: not needed
    scheduler = checks["scheduler"]
    assert scheduler["detail"] == "leader" and scheduler["this_process_leads"]
    assert scheduler["leader"]["backend"] == "sqlite"


async def test_a_stalled_job_store_holds_one_thread_not_one_per_scrape(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduler = running.background.scheduler
    assert scheduler is not None
    monkeypatch.setattr(health, "DATABASE_TIMEOUT", 0.2)
    release, calls = threading.Event(), []

    def stalled() -> list[object]:  # the job table's read, waiting on a stalled database
        calls.append(1)
        release.wait(10)
        return []

    monkeypatch.setattr(scheduler, "get_jobs", stalled)
    try:
        for _ in range(3):
            samples = await running.metrics()  # each answers, without the next runs
            assert sample(samples, "ccin_bridge_leader") == 1
        assert len(calls) == 1
    finally:
        release.set()


@ON_POSTGRESQL
async def test_readyz_names_the_database_when_it_is_away(
    settings: Settings, db: Database, postgres_server: str, tmp_path: Path
) -> None:
    name = str(db.url.database)

    def admin(*statements: str) -> None:
        with psycopg.connect(postgres_server, autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement)

    async with _running(await _app(settings, db, tmp_path)) as running:
        # The server ends the bridge's sessions and lets no new one in.
        await asyncio.to_thread(
            admin,
            f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
        )
        try:
            status, body = await running.ready()
            samples = await running.metrics()
        finally:
            await asyncio.to_thread(admin, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert status == 503
    assert body["failing"] == ["database"]
    assert body["checks"]["database"] == {"ok": False, "detail": "unreachable (OperationalError)"}
    assert body["checks"]["scheduler"]["leader"] == "unknown: the database does not answer"
    assert name not in str(body)  # nothing of the URL is said
    assert sample(samples, "ccin_bridge_database_up") == 0
    assert sample(samples, "ccin_bridge_leader") == 1  # this process's own metrics still answer


async def test_readyz_names_the_scheduler_when_it_stopped(running: Running) -> None:
    scheduler = running.background.scheduler
    assert scheduler is not None
    scheduler.pause()  # it runs no job
    status, body = await running.ready()
    assert status == 503 and body["failing"] == ["scheduler"]
    assert body["checks"]["scheduler"]["detail"] == "leader, but its scheduler is not running"

    await running.background.stop()
    status, body = await running.ready()
    assert status == 503 and body["failing"] == ["delivery_lanes", "scheduler"]
    assert body["checks"]["scheduler"]["detail"] == "stopped"


async def test_metrics_show_the_outbox_rate_limit_waits_and_searches(running: Running) -> None:
    before = await running.metrics()
    assert sample(before, "ccin_bridge_outbox_depth", status="pending") == 0
    assert sample(before, "ccin_bridge_database_up") == 1
    waits = sample(before, "ccin_bridge_rate_limit_waits_total", platform="terminal") or 0
    searches = sample(before, "ccin_bridge_search_seconds_count") or 0

    running.platform.busy.add("busy-chat")
    async with running.app.db.session() as session:
        await outbox.create_push(
            session,
            kind="broadcast",
            payload=reply_codec.encode(ReplyBuilder().para("Hello").build()),
            targets=[Target("terminal", "busy-chat", is_private=False), Target("terminal", "ok")],
            title="Test",
        )
    running.background.delivery.wake()
    async with asyncio.timeout(10):
        while True:
            samples = await running.metrics()
            if (
                sample(samples, "ccin_bridge_deliveries", outcome="sent") == 1
                and (
                    sample(samples, "ccin_bridge_rate_limit_waits_total", platform="terminal") or 0
                )
                > waits
            ):
                break
            await asyncio.sleep(0.05)
    assert running.platform.sent == ["ok"]
    # The busy chat waits out its 429, back in the queue.
    assert sample(samples, "ccin_bridge_outbox_depth", status="pending") == 1
    assert sample(samples, "ccin_bridge_rate_limit_waits_total", platform="terminal") == waits + 1
    assert sample(samples, "ccin_bridge_deliveries", outcome="failed") == 0
    assert sample(samples, "ccin_bridge_inbound_backlog", platform="terminal") == 0
    assert sample(samples, "ccin_bridge_chat_action_backlog", status="pending") == 0

    await running.app.bridge.handle(ask("search", "energy"))
    after = await running.metrics()
    assert sample(after, "ccin_bridge_search_seconds_count") == searches + 1
    assert (sample(after, "ccin_bridge_search_seconds_bucket", le="+Inf") or 0) >= searches + 1


async def test_metrics_show_the_leaders_jobs_and_their_last_runs(running: Running) -> None:
    samples = await running.metrics()
    assert sample(samples, "ccin_bridge_leader") == 1
    next_run = sample(samples, "ccin_bridge_job_next_run_timestamp_seconds", job="news-reminder")
    assert next_run is not None and next_run > datetime.now(UTC).timestamp()
    assert not any(name.startswith("ccin_bridge_job_last_success") for name, _ in samples)

    scheduler = running.background.scheduler
    assert scheduler is not None
    scheduler.modify_job("purge-button-state", next_run_time=datetime.now(UTC))
    async with asyncio.timeout(10):
        while "purge-button-state" not in running.background.last_success:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    samples = await running.metrics()
    ran = sample(
        samples, "ccin_bridge_job_last_success_timestamp_seconds", job="purge-button-state"
    )
    assert ran == running.background.last_success["purge-button-state"].timestamp()


@ON_POSTGRESQL
async def test_on_postgresql_a_standby_names_the_process_that_leads(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    """Two processes on one database, as two apps here: the second stands by, and says who
    leads as PostgreSQL shows the other's connection."""
    other_db = Database(db.url.render_as_string(hide_password=False))
    try:
        async with (
            _running(await _app(settings, db, tmp_path)) as first,
            _running(await _app(settings, other_db, tmp_path)) as second,
        ):
            status, body = await second.ready()
            assert status == 200, body
            scheduler = body["checks"]["scheduler"]
            assert scheduler["detail"] == "standby" and not scheduler["this_process_leads"]
            leader = scheduler["leader"]
            assert leader["pid"] == first.background.leadership.backend_pid
            assert leader["application_name"] == f"ccin-bridge@{socket.gethostname()}:{os.getpid()}"
            assert leader["client_addr"] == "127.0.0.1" and leader["backend_start"]

            status, body = await first.ready()
            assert status == 200 and body["checks"]["scheduler"]["this_process_leads"]
            assert body["checks"]["scheduler"]["leader"]["pid"] == leader["pid"]

            samples = await second.metrics()
            assert sample(samples, "ccin_bridge_leader") == 0
            assert not any(name.startswith("ccin_bridge_job_next_run") for name, _ in samples)
            assert sample(await first.metrics(), "ccin_bridge_leader") == 1
    finally:
        await other_db.close()
