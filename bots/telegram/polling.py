"""Long polling that loses nothing: each batch is stored before Telegram is told it arrived.

Telegram confirms updates only when the next `getUpdates` asks for a higher `offset`, so the
loop asks for the next batch only once `Inbox.receive` has stored this one. A crash between
the two means Telegram sends the batch again, and the journal drops the repeats. PTB's own
Updater confirms a batch as soon as it has fetched it, and parses a whole batch at once (one
malformed update would fail them all), which is why this loop is written here: it fetches the
raw JSON with aiohttp (as PTB's own calls go, see http.py) and leaves parsing to the handling of
each update.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence

import aiohttp

from ccin_bridge.bots.telegram.http import new_session, proxy_for
from ccin_bridge.bots.telegram.inbound import arrival, update_id_of
from ccin_bridge.handlers.inbox import Inbox

log = logging.getLogger(__name__)

BATCH = 100  # Telegram's maximum per getUpdates
MAX_BACKOFF = 30.0
# After a batch that was not full, wait this long before asking for the next, so that updates
# arriving meanwhile come together. Each batch costs a getUpdates and a journal write (a unit
# of work, 1.2-1.6 ms of CPU on SQLite), which at low rates each update paid alone. An update
# that arrives while the bridge is idle is not delayed: the long poll answers at once.
LINGER_SECONDS = 0.03


class PollRefused(Exception):
    """Telegram answered getUpdates with an error."""

    def __init__(self, status: int, description: str, retry_after: float | None) -> None:
        super().__init__(f"{status}: {description}")
        self.status, self.description, self.retry_after = status, description, retry_after


class Poller:
    def __init__(
        self,
        inbox: Inbox,
        *,
        base_url: str,
        allowed_updates: Sequence[str],
        timeout: float,
        connect_timeout: float,
        read_timeout: float,
        linger: float = LINGER_SECONDS,
    ) -> None:
        self.inbox = inbox
        self.linger = linger
        self.url = f"{base_url}/getUpdates"
        self.allowed_updates = list(allowed_updates)
        self.timeout = timeout
        # The long poll itself may take `timeout`; the read timeout comes on top. (The body,
        # a few hundred bytes, goes to the socket at once: there is no write to time.)
        self.timeouts = aiohttp.ClientTimeout(
            connect=connect_timeout,
            sock_connect=connect_timeout,
            sock_read=timeout + read_timeout,
        )
        self.client: aiohttp.ClientSession | None = None
        self.offset: int | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # successful fetches, for tests that wait on progress

    async def start(self) -> None:
        if self._task is not None:  # already polling: one poller per token, ever
            return
        self.client = new_session(1, self.timeouts)
        self._task = asyncio.create_task(self._run(), name="telegram-polling")

    async def stop(self) -> None:
        """Stop at once. A batch fetched but not yet stored was not confirmed either: Telegram
        sends it again to the next start."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        client, self.client = self.client, None
        if client is not None:
            await client.close()

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                raw = await self._fetch()
                await self._store(raw)
                failures = 0
                if raw and len(raw) < BATCH:
                    await asyncio.sleep(self.linger)
            except asyncio.CancelledError:
                raise
            except PollRefused as exc:
                if exc.status in (401, 404):
                    log.error("Telegram rejected the bot token: polling stopped")
                    return
                failures += 1
                # 409: another process polls with this token, or a webhook is set.
                log.warning("Telegram refused getUpdates: %s", exc)
                wait = exc.retry_after or min(MAX_BACKOFF, 2.0**failures)
                await asyncio.sleep(wait)
            except Exception as exc:  # network, a 5xx, an unreadable answer, the store
                failures += 1
                log.warning(
                    "could not fetch or store Telegram updates (%s); retrying",
                    type(exc).__name__,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
                await asyncio.sleep(min(MAX_BACKOFF, 0.5 * 2.0**failures))

    async def _fetch(self) -> Sequence[object]:
        assert self.client is not None, "start() first"
        parameters: dict[str, object] = {
            "timeout": int(self.timeout),
            "limit": BATCH,
            "allowed_updates": self.allowed_updates,
        }
        if self.offset is not None:
            parameters["offset"] = self.offset
        async with self.client.post(
            self.url, json=parameters, proxy=proxy_for(self.url)
        ) as response:
            status, raw = response.status, await response.read()
        body = json.loads(raw)  # a body that is not JSON raises, and is retried
        if not isinstance(body, dict):
            raise ValueError("getUpdates answered with something other than an object")
        if not body.get("ok"):
            extra = body.get("parameters")
            retry = extra.get("retry_after") if isinstance(extra, dict) else None
            raise PollRefused(
                int(body.get("error_code") or status),
                str(body.get("description") or "")[:200],
                float(retry) if isinstance(retry, int | float) else None,
            )
        result = body.get("result")
        if not isinstance(result, list):
            raise ValueError("getUpdates did not answer with a list")
        self.batches += 1
        return result

    async def _store(self, raw: Sequence[object]) -> None:
        arrivals = [a for a in map(arrival, raw) if a is not None]
        if len(arrivals) < len(raw):
            log.warning(
                "%d Telegram updates without an update_id ignored", len(raw) - len(arrivals)
            )
        await self.inbox.receive(arrivals)
        ids = [i for i in map(update_id_of, raw) if i is not None]
        if ids:
            # Only now: the next request confirms everything below the new offset.
            self.offset = max(ids) + 1
