"""What runs beside the platforms: the scheduler and the outbox workers.

The scheduler only queues (digests, reminders, checks); the delivery lanes send what is
queued through each running platform, and the chat-action worker invites and removes people
in the real chats. All stop cleanly, handing back unsent work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from ccin_bridge.app import App
from ccin_bridge.scheduler import runtime
from ccin_bridge.scheduler.chat_actions import ChatActionService
from ccin_bridge.scheduler.delivery import DeliveryService
from ccin_bridge.scheduler.outbound import ChatAdmin, Outbound
from ccin_bridge.scheduler.service import build_scheduler

log = logging.getLogger(__name__)


class Background:
    def __init__(
        self,
        app: App,
        outbound: Mapping[str, Outbound],
        chat_admins: Mapping[str, ChatAdmin] | None = None,
    ) -> None:
        self.app = app
        self.outbound = dict(outbound)
        self.chat_admins = dict(chat_admins or {})
        self.delivery = DeliveryService(app.db, self.outbound)
        self.chat_actions = ChatActionService(app.db, self.chat_admins, settings=app.settings)
        self.scheduler: AsyncIOScheduler | None = None

    async def start(self) -> None:
        runtime.install(runtime.Runtime(self.app.bridge, self.outbound, self.chat_admins))
        self.scheduler = build_scheduler(self.app.settings)
        self.scheduler.start()
        await self.delivery.start()
        if self.chat_admins:
            await self.chat_actions.start()
        log.info("outbox workers started for %s", ", ".join(self.outbound) or "no platform")

    async def stop(self) -> None:
        # Side by side, each within its few seconds' grace: shutdown stays well under 10 s.
        await asyncio.gather(self.chat_actions.stop(), self.delivery.stop())
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        runtime.uninstall()
