"""What runs beside the platforms: the scheduler and the outbox workers.

The scheduler only queues (digests, reminders, checks); the delivery lanes send what is
queued through each running platform, and the chat-action worker invites and removes people
in the real chats. All stop cleanly, handing back unsent work. With several processes on one
PostgreSQL database, every one sends, and one of them, the leader, runs the scheduled jobs
(store/leadership.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from ccin_bridge.app import App
from ccin_bridge.scheduler import runtime
from ccin_bridge.scheduler.chat_actions import ChatActionService
from ccin_bridge.scheduler.delivery import DeliveryService
from ccin_bridge.scheduler.outbound import ChatAdmin, Outbound
from ccin_bridge.scheduler.service import build_scheduler
from ccin_bridge.store.leadership import Leadership

log = logging.getLogger(__name__)

# A leader that went is replaced within this (and its lock goes the moment its connection does).
LEADER_CHECK_SECONDS = 30.0


class Background:
    def __init__(
        self,
        app: App,
        outbound: Mapping[str, Outbound],
        chat_admins: Mapping[str, ChatAdmin] | None = None,
        *,
        leader_check_seconds: float = LEADER_CHECK_SECONDS,
    ) -> None:
        self.app = app
        self.outbound = dict(outbound)
        self.chat_admins = dict(chat_admins or {})
        self.delivery = DeliveryService(app.db, self.outbound)
        self.chat_actions = ChatActionService(app.db, self.chat_admins, settings=app.settings)
        self.scheduler: AsyncIOScheduler | None = None
        self.leadership = Leadership(app.db)
        self.leader_check_seconds = leader_check_seconds
        self._watch: asyncio.Task[None] | None = None
        self._chat_actions_started = False
        # When each job last ran to its end in this process (for /metrics): the job store
        # keeps only the next run.
        self.last_success: dict[str, datetime] = {}

    @property
    def watching(self) -> bool:
        """Started and not stopped: leading, or standing by to take over (for /readyz)."""
        return self._watch is not None and not self._watch.done()

    @property
    def leading(self) -> bool:
        """This process runs the scheduled jobs now."""
        return self.leadership.leading and self.scheduler is not None

    @property
    def chat_actions_running(self) -> bool | None:
        """None when no platform here changes chats, so that no worker is needed."""
        return self._chat_actions_started if self.chat_admins else None

    async def start(self) -> None:
        runtime.install(runtime.Runtime(self.app.bridge, self.outbound, self.chat_admins))
        await self.delivery.start()
        if self.chat_admins:
            await self.chat_actions.start()
            self._chat_actions_started = True
        log.info("outbox workers started for %s", ", ".join(self.outbound) or "no platform")
        # Every process sends what is queued (the outbox's leases keep that safe); only the
        # leader runs the scheduled jobs, and another takes over when it goes.
        if await self.leadership.try_lead():
            self._start_scheduler()
        else:
            log.info("another process runs the scheduled jobs: this one stands by")
        self._watch = asyncio.create_task(self._keep_leading(), name="scheduler-leadership")

    def _start_scheduler(self) -> None:
        self.scheduler = build_scheduler(self.app.settings)
        self.scheduler.add_listener(self._job_ran, EVENT_JOB_EXECUTED)
        self.scheduler.start()

    def _job_ran(self, event: JobExecutionEvent) -> None:
        self.last_success[event.job_id] = datetime.now(UTC)

    def _stop_scheduler(self) -> None:
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None and scheduler.running:  # it may have stopped by itself
            scheduler.shutdown(wait=False)

    async def _keep_leading(self) -> None:
        """Check the lead now and then: take it over from a leader that went (its missed jobs
        then run once, within their grace time), or give the scheduler up if it was lost."""
        while True:
            await asyncio.sleep(self.leader_check_seconds)
            try:
                leading = await self.leadership.try_lead()
            except Exception:  # the database is away: not leading, for now
                log.warning("could not check the scheduler's leadership", exc_info=True)
                leading = False
            if leading and self.scheduler is None:
                log.info("this process now runs the scheduled jobs")
                try:
                    self._start_scheduler()
                except Exception:  # the job store is away: try again at the next check
                    log.warning("could not start the scheduler", exc_info=True)
                    self.scheduler = None
                    await self.leadership.step_down()
            elif not leading and self.scheduler is not None:
                log.warning("another process runs the scheduled jobs now: this one stands by")
                self._stop_scheduler()

    async def stop(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        # Side by side, each within its few seconds' grace: shutdown stays well under 10 s.
        self._chat_actions_started = False
        await asyncio.gather(self.chat_actions.stop(), self.delivery.stop())
        self._stop_scheduler()
        await self.leadership.step_down()
        runtime.uninstall()
