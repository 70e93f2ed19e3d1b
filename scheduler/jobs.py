"""Scheduled jobs: module-level coroutines that take only ids, so any job store can keep them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from ccin_bridge.scheduler import runtime
from ccin_bridge.store import callbacks, inbox, link_codes

log = logging.getLogger(__name__)
BUTTON_STATE_TTL = timedelta(days=7)


async def purge_button_state() -> int:
    """Forget server-side button state older than a week (those buttons answer 'expired'),
    unused link codes, and the keys of inbound updates finished days ago."""
    bridge = runtime.current().bridge
    async with bridge.db.session() as session:
        removed = await callbacks.purge_actions(session, BUTTON_STATE_TTL)
        await link_codes.purge_expired(session, datetime.now(UTC))  # unused /link codes
        keys = await inbox.purge(session, datetime.now(UTC))
    log.info("purged %d expired button states and %d inbound update keys", removed, keys)
    return removed
