"""Scheduled pushes: the monthly digest per audience and the "send your news" reminder.

Module-level coroutines taking only strings, so the persistent job store can keep them
(scheduler/service.py registers them). Each queues a push under a unique key
(`digest:officers:2026-12`, `news-reminder:2026-11`), so a job that fires twice, or after an
admin sent the edition early, sends nothing the second time. The delivery lanes send it.
"""

from __future__ import annotations

import logging

from ccin_bridge.handlers import digest
from ccin_bridge.scheduler import runtime

log = logging.getLogger(__name__)


async def send_monthly_digest(audience: str) -> int | None:
    """Queue this month's digest for one audience; the push id, or None if already sent."""
    bridge = runtime.current().bridge
    if audience not in {a.slug for a in bridge.settings.audiences}:
        log.warning("digest job for unknown audience %r skipped (not in config)", audience)
        return None
    now = bridge.clock()
    edition = digest.scheduled_edition(bridge.settings, now)
    async with bridge.db.session() as session:
        sent = await digest.send(session, bridge.settings, audience, now=now, edition=edition)
    if sent.push_id is None:
        log.info("digest %s was queued already; nothing sent", digest.digest_key(audience, edition))
    else:
        log.info(
            "queued digest %s as push %d to %d chat(s)",
            digest.digest_key(audience, edition),
            sent.push_id,
            sent.recipients,
        )
    return sent.push_id


async def send_news_reminder() -> int | None:
    """Queue this month's "send your news by the 24th" reminder, once."""
    bridge = runtime.current().bridge
    now = bridge.clock()
    async with bridge.db.session() as session:
        sent = await digest.send_news_reminder(session, bridge.settings, now=now)
    if sent.push_id is None:
        log.info("news reminder %s was queued already", digest.reminder_key(bridge.settings, now))
    else:
        log.info("queued news reminder as push %d to %d chat(s)", sent.push_id, sent.recipients)
    return sent.push_id
