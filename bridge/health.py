"""`/healthz`, `/readyz` and `/metrics` on a small HTTP listener beside `ccin-bridge run`
(and the events' calendar feed, `/calendar.ics`: bridge/calendar_feed.py, and the routes of
platforms served here, which have an `add_routes(app)`: Teams' `/api/messages`).

`/healthz` answers while the event loop does, and asks the database nothing. `/readyz` says
whether this process is of use: the database answers, its platforms are started, the
delivery lanes (and the chat-action worker, where a platform changes chats) run, and the
scheduler leads or stands by; 200 if all pass, else 503, with each check and who leads.
`/metrics` is Prometheus's text format: the queues counted in the database at each scrape,
this process's own counts (handlers/metrics.py) and the scheduler's runs, in a registry made
for the scrape, never prometheus-client's global one.

No answer carries a secret or anything about a person or a message: counts, states, job ids,
and the leader's connection as PostgreSQL shows it (server pid, `ccin-bridge@HOST:PID`,
client address).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from apscheduler.schedulers.base import STATE_RUNNING
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from ccin_bridge import calendar_feed, click_redirect
from ccin_bridge.app import App, PlatformService
from ccin_bridge.background import Background
from ccin_bridge.handlers import metrics
from ccin_bridge.handlers.config import ConfigError
from ccin_bridge.store import health_counts
from ccin_bridge.store.leadership import Leader, current_leader

log = logging.getLogger(__name__)

# A database slower than this to answer counts as away: probes and scrapes must not hang.
DATABASE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)  # more to show, e.g. who leads

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, **self.facts}


def _quietly(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


class Listener:
    """The running listener: `port` is the one bound (an ephemeral one for port 0)."""

    def __init__(self, runner: web.AppRunner, port: int) -> None:
        self._runner = runner
        self.port = port

    async def stop(self) -> None:
        await self._runner.cleanup()


async def start_listener(
    app: App,
    background: Background,
    services: Sequence[PlatformService],
    host: str,
    port: int,
) -> Listener:
    """Serve the three routes on `host:port`; `services` are the platforms already started."""
    # No access log (a scrape every few seconds); a request under way when the bridge stops
    # gets a second, within the stop's 10 s.
    runner = web.AppRunner(
        web_app(app, background, services), access_log=None, shutdown_timeout=1.0
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"http: cannot listen on {host}:{port} ({exc.strerror})") from None
    return Listener(runner, runner.addresses[0][1])


def web_app(
    app: App, background: Background, services: Sequence[PlatformService]
) -> web.Application:
    probes = _Probes(app, background, [s.platform for s in services])
    routes = web.Application()
    routes.router.add_get("/healthz", probes.healthz)
    routes.router.add_get("/readyz", probes.readyz)
    routes.router.add_get("/metrics", probes.metrics)
    calendar_feed.add_route(routes, app)  # /calendar.ics, for people to subscribe to
    click_redirect.add_route(routes, app)  # /r/<token>: a link in a digest or broadcast
    for service in services:
        # A platform whose requests come to this listener (Teams' /api/messages).
        add_routes = getattr(service, "add_routes", None)
        if callable(add_routes):
            add_routes(routes)
    return routes


class _Probes:
    def __init__(self, app: App, background: Background, platforms: list[str]) -> None:
        self.app = app
        self.background = background
        self.platforms = platforms
        # The job store's read, in a thread that a timeout cannot stop: while one is still
        # under way (the database stalls), scrapes do without next runs rather than park
        # another thread (and wait on APScheduler's lock) each time.
        self._reading_jobs: asyncio.Task[list[Any]] | None = None

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(self, _request: web.Request) -> web.Response:
        checks = {"database": Check(True, "answers")}
        leader: Leader | None = None
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT), self.app.db.read() as session:
                await health_counts.ping(session)
                leader = await current_leader(session)
        except TimeoutError:
            checks["database"] = Check(False, f"no answer within {DATABASE_TIMEOUT:g} s")
        except Exception as exc:  # its class only: the message may carry the URL
            checks["database"] = Check(False, f"unreachable ({type(exc).__name__})")
        for platform in self.platforms:
            # Given to the listener once started (bridge/cli/commands.py `_run`).
            checks[f"platform:{platform}"] = Check(True, "started")
        lanes = self.background.delivery.running
        checks["delivery_lanes"] = Check(lanes, "running" if lanes else "stopped")
        worker = self.background.chat_actions_running
        if worker is None:
            checks["chat_actions"] = Check(True, "not needed: no platform here changes chats")
        else:
            checks["chat_actions"] = Check(worker, "running" if worker else "stopped")
        checks["scheduler"] = self._scheduler(leader, known=checks["database"].ok)
        failing = [name for name, check in checks.items() if not check.ok]
        body = {
            "status": "not ready" if failing else "ready",
            "failing": failing,
            "checks": {name: check.as_dict() for name, check in checks.items()},
        }
        return web.json_response(body, status=503 if failing else 200)

    def _scheduler(self, leader: Leader | None, *, known: bool) -> Check:
        background = self.background
        facts: dict[str, Any] = {
            "leader": leader.as_dict() if leader else None,
            "this_process_leads": background.leading,
        }
        if not known:
            facts["leader"] = "unknown: the database does not answer"
        if not background.watching:
            return Check(False, "stopped", facts)
        if background.leadership.leading:
            scheduler = background.scheduler
            if scheduler is None or scheduler.state != STATE_RUNNING:  # stopped or paused
                return Check(False, "leader, but its scheduler is not running", facts)
            return Check(True, "leader", facts)
        return Check(True, "standby", facts)

    async def metrics(self, request: web.Request) -> web.Response:
        registry = CollectorRegistry()
        for collector in metrics.IN_PROCESS:
            registry.register(collector)
        registry.register(_Fixed([*await self._database_metrics(), *await self._job_metrics()]))
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(registry), headers={"Content-Type": content_type})

    async def _database_metrics(self) -> list[Metric]:
        up = GaugeMetricFamily(
            "ccin_bridge_database_up", "1 if the database answered this scrape's counts"
        )
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT), self.app.db.read() as session:
                counts = await health_counts.queue_counts(session)
        except Exception as exc:
            log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        inbound = dict.fromkeys(self.platforms, 0) | counts.inbound
        return [
            up,
            _labelled(
                "ccin_bridge_outbox_depth",
                "Deliveries not yet sent, by status",
                "status",
                counts.outbox,
            ),
            _labelled(
                "ccin_bridge_deliveries",
                "Deliveries kept in the outbox by outcome (in_doubt: flagged as possibly "
                "sent twice, whatever their status)",
                "outcome",
                counts.deliveries,
            ),
            _labelled(
                "ccin_bridge_chat_action_backlog",
                "Chat changes (invites, removals) waiting or under way, by status",
                "status",
                counts.chat_actions,
            ),
            _labelled(
                "ccin_bridge_inbound_backlog",
                "Updates stored in the inbound journal and not yet done, by platform",
                "platform",
                inbound,
            ),
        ]

    async def _job_metrics(self) -> list[Metric]:
        background = self.background
        leader = GaugeMetricFamily(
            "ccin_bridge_leader", "1 if this process runs the scheduled jobs, 0 if it stands by"
        )
        leader.add_metric([], 1 if background.leading else 0)
        next_run = GaugeMetricFamily(
            "ccin_bridge_job_next_run_timestamp_seconds",
            "When each scheduled job runs next (Unix time; the leader only)",
            labels=["job"],
        )
        scheduler = background.scheduler
        jobs: list[Any] = []
        reading = self._reading_jobs
        if background.leading and scheduler is not None and (reading is None or reading.done()):
            # In a thread: the job store reads its table synchronously.
            reading = asyncio.create_task(asyncio.to_thread(scheduler.get_jobs))
            reading.add_done_callback(_quietly)  # a failure after the timeout: not "unretrieved"
            self._reading_jobs = reading
            try:
                jobs = await asyncio.wait_for(asyncio.shield(reading), DATABASE_TIMEOUT)
            except Exception as exc:
                log.warning("metrics: the job store did not answer (%s)", type(exc).__name__)
            for job in jobs:
                if job.next_run_time is not None:  # None: paused
                    next_run.add_metric([job.id], job.next_run_time.timestamp())
        last = GaugeMetricFamily(
            "ccin_bridge_job_last_success_timestamp_seconds",
            "When each scheduled job last ran to its end in this process (Unix time)",
            labels=["job"],
        )
        for job_id, when in sorted(background.last_success.items()):
            last.add_metric([job_id], when.timestamp())
        return [leader, next_run, last]


def _labelled(name: str, documentation: str, label: str, values: dict[str, int]) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


class _Fixed(Collector):
    """Metrics gathered before the (synchronous) collection."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families
