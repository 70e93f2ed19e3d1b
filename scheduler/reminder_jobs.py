"""The event-reminder job: every few minutes, queue the reminders that have fallen due.

It only queues (the delivery lanes send). Each reminder has a unique push key, so a run
repeated after a restart, or two runs seeing the same reminder, queue it once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from ccin_bridge.handlers import reminders, reply_codec
from ccin_bridge.scheduler import runtime
from ccin_bridge.store import audiences, outbox, reference

log = logging.getLogger(__name__)


async def send_event_reminders() -> int:
    """Queue every reminder due within the misfire grace; returns how many were new."""
    bridge = runtime.current().bridge
    settings = bridge.settings
    now = bridge.clock()
    grace = timedelta(minutes=settings.schedules.misfire_grace_minutes)
    queued = 0
    async with bridge.db.session() as session:
        due = reminders.due_reminders(
            await reference.events(session),
            now=now,
            zone=settings.zone,
            schedules=settings.schedules,
            lookback=grace,
        )
        if not due:
            return 0
        targets = await audiences.topic_targets(session, reminders.TOPIC)
        for reminder in due:
            push_id = await outbox.create_push(
                session,
                kind="reminder",
                payload=reply_codec.encode(reminders.reminder_reply(reminder)),
                targets=targets,
                key=reminder.key,
                audience=reminders.TOPIC,
                title=f"Reminder: {reminder.event.title} ({reminder.on:%d %b %Y})",
            )
            if push_id is not None:
                queued += 1
                log.info("queued %s for %d chats", reminder.key, len(targets))
    return queued
