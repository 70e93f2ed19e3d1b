"""Durable, ordered and concurrent handling of what a platform delivers.

An adapter hands each batch of raw updates to `Inbox.receive`, which stores them and returns;
only then does the adapter acknowledge them to the platform (Telegram's next offset, Slack's
200). Each stored update is then handled by `process`, the adapter's own translation:

- in order within one chat (`chat_key`), concurrently across chats, so a group whose replies
  wait for its send limit holds up nobody else;
- exactly once: a command that changes anything records its replies in its own unit of work
  (see `Receipt` and `Bridge.handle`), so after a crash its effects are not repeated and only
  its replies are sent again; a read-only command is simply run again;
- an update `process` cannot read is skipped once, logged without its content.

With several processes on one PostgreSQL database, any of them may receive (a webhook, Slack's
HTTP endpoint or Socket Mode behind a load balancer) and store, but one at a time handles each
platform's journal: the platform's inbound leader (an advisory lock, store/leadership.py). So
order within a chat and "exactly once" hold as with one process. A standby notifies the
leader of what it stored (LISTEN/NOTIFY, store/wakeups.py) and takes the lead within
`LEAD_CHECK_SECONDS` of the leader going. Telegram's long polling runs in the leader only
(`on_lead`): Telegram allows one poller per token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.store import inbox as journal
from ccin_bridge.store import wakeups
from ccin_bridge.store.db import Database
from ccin_bridge.store.inbox import Arrival as Arrival  # adapters hand these in
from ccin_bridge.store.inbox import InboundItem as InboundItem
from ccin_bridge.store.leadership import Leadership, lock_named

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # an update whose handling keeps failing is skipped, not retried forever
RETRY_SECONDS = 1.0
# How often a standby tries to take a leader's place, and the leader checks that it still
# leads and looks for updates whose notification was lost.
LEAD_CHECK_SECONDS = 30.0
# How long a handled update's outcome waits to be written with the others finished meanwhile.
# A write is a unit of work (its own transaction and trips to the database's thread, 1.2-1.6 ms
# of CPU on SQLite), which at low rates each update paid alone; the delay only widens, by this
# much, the window in which a crash leaves an answered update to be handled once more.
OUTCOME_DELAY_SECONDS = 0.2


class Unreadable(Exception):
    """`process` raises this for an update the platform library cannot parse."""


@dataclass
class Receipt:
    """The update being handled, as the bridge sees it from inside `process`."""

    item_id: int
    stored: tuple[list[dict[str, Any]] | None, ...] = ()  # replies of calls already committed
    calls: int = 0

    def next_call(self) -> tuple[int, list[Reply] | None]:
        """This bridge call's number, and its replies if it was handled before a restart."""
        call, self.calls = self.calls, self.calls + 1
        stored = self.stored[call] if call < len(self.stored) else None
        return call, None if stored is None else [reply_codec.decode(r) for r in stored]


receipt: ContextVar[Receipt | None] = ContextVar("ccin_inbound_receipt", default=None)


@contextlib.asynccontextmanager
async def once(db: Database) -> AsyncIterator[AsyncSession | None]:
    """A unit of work for an update's effects outside a command (a chat event): None if this
    update's effects were committed before a restart (do them no more), else a session whose
    commit also marks the update handled, so they are never done twice."""
    current = receipt.get()
    call, done = current.next_call() if current is not None else (0, None)
    if done is not None:
        yield None
        return
    async with db.session() as session:
        yield session
        if current is not None:
            await journal.record_replies(session, current.item_id, call, [])


Process = Callable[[InboundItem], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Inbox:
    """One platform's journal and the workers that empty it."""

    def __init__(
        self,
        db: Database,
        platform: str,
        process: Process,
        *,
        concurrency: int = 32,
        clock: Callable[[], datetime] = _utcnow,
        lead_check_seconds: float = LEAD_CHECK_SECONDS,
        outcome_delay: float = OUTCOME_DELAY_SECONDS,
    ) -> None:
        self.db = db
        self.platform = platform
        self.process = process
        self.clock = clock
        self.lead_check_seconds = lead_check_seconds
        self.outcome_delay = outcome_delay
        # What the adapter does when this process takes or loses the lead (Telegram polls).
        self.on_lead: Hook | None = None
        self.on_standby: Hook | None = None
        self._leadership = Leadership(db, lock_named(f"inbound:{platform}"))
        self._listener = wakeups.Listener(db, wakeups.INBOUND)
        self._watch: asyncio.Task[None] | None = None
        self._recording: set[int] = set()  # outcomes being written this moment
        # Outcomes written so far: a read of the journal that overlapped a write may show
        # updates as open that are done, so it is read again (see `_open_unknown`).
        self._recorded = 0
        self._slots = asyncio.Semaphore(concurrency)
        self._lanes: dict[str, deque[InboundItem]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._queued: set[int] = set()
        self._finished: dict[int, str] = {}  # id -> status, waiting to be written
        self._writer: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()  # write the outcomes now, not after `outcome_delay`
        self._accepting = False
        self._settled = asyncio.Event()  # set whenever a lane or the outcome writer ends

    # --- life cycle --------------------------------------------------------------------------

    @property
    def leading(self) -> bool:
        """This process handles the platform's journal (on SQLite, always)."""
        return self._leadership.leading

    async def start(self) -> None:
        """Lead, and take up what an earlier run left (updates stored but not yet done); or,
        when another process leads, store what comes and stand by."""
        self._accepting = True
        if await self._leadership.try_lead():
            await self._lead()
        else:
            log.info("another process handles the %s updates: this one stands by", self.platform)
        if not self.db.is_sqlite:  # one process serves a SQLite file: nobody to watch for
            self._watch = asyncio.create_task(self._keep_watch(), name=f"inbound-{self.platform}")

    async def _lead(self) -> None:
        await self._listener.start()  # first, so that nothing stored meanwhile is missed
        await self._take_up()
        if self.on_lead is not None:
            await self.on_lead()

    async def _take_up(self) -> None:
        fresh = await self._open_unknown()
        if fresh:
            log.info("%d stored %s updates to handle", len(fresh), self.platform)
        self._queue(fresh)

    async def _open_unknown(self, up_to: int | None = None) -> list[InboundItem]:
        """Stored updates not done and not in hand here, oldest first (up to an id). Read
        from the journal, also for updates this process has just stored: the watch may have
        taken them up and finished them meanwhile."""
        while True:
            recorded = self._recorded
            async with self.db.read() as session:
                if up_to is None:
                    items = await journal.open_items(session, self.platform)
                    found = [i for i in items if not self._known(i.id)]
                else:
                    ids = await journal.open_ids(session, self.platform, up_to=up_to)
                    unknown = [i for i in ids if not self._known(i)]
                    found = []
                    if unknown:
                        found = await journal.open_items(session, self.platform, ids=unknown)
            if recorded == self._recorded:  # no outcome was written meanwhile
                return [i for i in found if not self._known(i.id)]

    def _known(self, item_id: int) -> bool:
        return item_id in self._queued or item_id in self._finished or item_id in self._recording

    async def _keep_watch(self) -> None:
        """The leader takes up what standbys stored when they say so, and checks that it still
        leads three times as often as a standby tries to take the lead (so a leader whose lock
        went notices before another can have taken it); a standby tries now and then."""
        check = self.lead_check_seconds / 3
        checked = asyncio.get_running_loop().time()
        handling = self.leading  # what this process did at the last look
        while self._accepting:
            try:
                if not handling:
                    await asyncio.sleep(self.lead_check_seconds)
                    if await self._leadership.try_lead():
                        log.info("this process now handles the %s updates", self.platform)
                        handling = True
                        await self._lead()
                    continue
                if not self._listener.listening:  # lost, or taking the lead failed half-way
                    await self._lead()  # listen, take up what came meanwhile, poll (once)
                if self.platform in await self._listener.wait(within=check):
                    await self._take_up()
                if asyncio.get_running_loop().time() - checked < check:
                    continue
                checked = asyncio.get_running_loop().time()
                if await self._leadership.try_lead():
                    await self._take_up()  # what a lost notification left
                else:
                    handling = False
                    await self._stand_down()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: not leading, for now
                log.warning("could not watch the %s journal", self.platform, exc_info=True)
                await self._listener.stop()
                if handling and not self.leading:  # the lock may be another's by now
                    handling = False
                    await self._stand_down()
                await asyncio.sleep(min(self.lead_check_seconds, 5.0))

    async def _stand_down(self) -> None:
        """The lead was lost (its connection broke): another process takes up the journal, so
        handling here stops at once rather than overlap with it."""
        log.warning("another process handles the %s updates now: standing by", self.platform)
        await self._listener.stop()
        for task in list(self._workers.values()):
            task.cancel()
        self._lanes.clear()
        self._queued.clear()
        if self.on_standby is not None:
            await self.on_standby()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking new work; let handling under way finish for up to `grace` seconds,
        then cancel it. Whatever is not done stays stored for the next start."""
        self._accepting = False
        self._hurry.set()
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        workers = list(self._workers.values())
        if workers:
            _, late = await asyncio.wait(workers, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                log.warning(
                    "%d %s chats still busy at shutdown: left for the next start",
                    len(late),
                    self.platform,
                )
                await asyncio.wait(late, timeout=1.0)
        # Outcomes not written within a second (the database is down) are given up: those
        # updates are handled again at the next start, which is safe, and shutdown is bounded.
        writer = self._writer
        if writer is not None:
            _, late = await asyncio.wait([writer], timeout=1.0)
            for task in late:
                task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flush(), timeout=1.0)
        self._finished.clear()
        await self._listener.stop()
        await self._leadership.step_down()  # after the outcomes: the next leader sees them

    async def idle(self) -> None:
        """Wait until everything received has been handled and recorded (tests, benchmarks)."""
        while self._accepting and (self._workers or self._finished or self._writer is not None):
            if not self._workers:
                self._hurry.set()
            self._settled.clear()
            await self._settled.wait()

    # --- receiving ---------------------------------------------------------------------------

    async def receive(self, arrivals: Sequence[Arrival]) -> None:
        """Store arrivals in one transaction; a repeat of a stored one is dropped. When this
        returns, they survive a crash, and the platform may be told they arrived."""
        if not arrivals:
            return
        leading = self.leading
        async with self.db.session() as session:
            items = await journal.add(session, self.platform, arrivals)
            if items and not leading:  # the leader hears of them as they are committed
                await wakeups.notify(session, wakeups.INBOUND, self.platform)
        if items and leading and not self.leading:  # the lead went meanwhile: tell the next
            with contextlib.suppress(Exception):  # its own checks find them at the latest
                async with self.db.session() as session:
                    await wakeups.notify(session, wakeups.INBOUND, self.platform)
        if not (self._accepting and self.leading and items):
            return
        if self.db.is_sqlite:  # this process stores all there is: nothing can come before
            self._queue(items)
            return
        # Updates another process stored before these may not be taken up yet (their
        # notification is on its way): queue those first, so that a chat keeps its order.
        self._queue(await self._open_unknown(up_to=items[-1].id))

    def _queue(self, items: Sequence[InboundItem]) -> None:
        for item in items:
            if item.id in self._queued:
                continue
            self._queued.add(item.id)
            self._lanes.setdefault(item.chat_key, deque()).append(item)
            if item.chat_key not in self._workers:
                self._workers[item.chat_key] = asyncio.create_task(
                    self._lane(item.chat_key), name=f"inbound-{self.platform}-{item.chat_key}"
                )

    # --- handling ----------------------------------------------------------------------------

    async def _lane(self, chat_key: str) -> None:
        """One chat's updates, one at a time, in the order they arrived."""
        lane = self._lanes[chat_key]
        try:
            while lane and self._accepting:
                item = lane[0]
                async with self._slots:
                    status = await self._handle(item)
                lane.popleft()
                self._queued.discard(item.id)
                if status is not None:
                    self._finish(item.id, status)
        finally:
            if not lane:
                self._lanes.pop(chat_key, None)
            self._workers.pop(chat_key, None)
            self._settled.set()

    async def _handle(self, item: InboundItem) -> str | None:
        """Handle one update; returns how it ended, or None to leave it for the next start."""
        attempts = item.attempts
        while True:
            current = Receipt(item.id, item.replies)
            token = receipt.set(current)
            try:
                await self.process(item)
                return journal.DONE
            except journal.AlreadyHandled:
                log.info("%s update %d was handled by another process", self.platform, item.id)
                return None  # that process records how it ended
            except Unreadable as exc:
                log.warning(
                    "%s update %d skipped: it could not be read (%s)",
                    self.platform,
                    item.id,
                    type(exc.__cause__ or exc).__name__,
                )
                return journal.SKIPPED
            except Exception as exc:
                attempts += 1
                # The log names the update, never its content (other people's messages).
                log.error(
                    "%s update %d failed (attempt %d of %d): %s",
                    self.platform,
                    item.id,
                    attempts,
                    MAX_ATTEMPTS,
                    type(exc).__name__,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
                if attempts >= MAX_ATTEMPTS:
                    return journal.SKIPPED
                with contextlib.suppress(Exception):
                    async with self.db.session() as session:
                        await journal.attempted(session, item.id)
                if not self._accepting:
                    return None
                await asyncio.sleep(RETRY_SECONDS * attempts)
                # What the failed attempt committed (a command and its replies) stands: the
                # next attempt answers with those replies rather than running it again.
                with contextlib.suppress(Exception):
                    async with self.db.read() as session:
                        [item] = await journal.open_items(session, self.platform, ids=[item.id])
            finally:
                receipt.reset(token)

    # --- recording outcomes ------------------------------------------------------------------

    def _finish(self, item_id: int, status: str) -> None:
        """Record outcomes in batches: one transaction covers those finished within
        `outcome_delay` of each other (under load, many)."""
        self._finished[item_id] = status
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_finished(), name="inbound-finish")

    async def _write_finished(self) -> None:
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.outcome_delay):
                    await self._hurry.wait()
            failures = 0
            while not await self._flush():
                failures += 1
                await asyncio.sleep(min(5.0, 0.2 * 2**failures))
        finally:
            self._writer = None
            self._settled.set()

    async def _flush(self) -> bool:
        """Write every outcome waiting; False if the database refused (they are kept: not
        recorded, they would be handled again after a restart)."""
        if self._accepting:
            self._hurry.clear()
        while self._finished:
            batch, self._finished = self._finished, {}
            self._recording.update(batch)
            try:
                async with self.db.session() as session:
                    for status in set(batch.values()):
                        ids = [i for i, s in batch.items() if s == status]
                        await journal.finish(session, ids, status=status, now=self.clock())
            except Exception:
                for item_id, status in batch.items():
                    self._finished.setdefault(item_id, status)
                log.warning("could not record %d handled updates", len(batch), exc_info=True)
                return False
            finally:
                self._recording.difference_update(batch)
                self._recorded += 1
        return True
