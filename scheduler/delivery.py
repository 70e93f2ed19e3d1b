"""Delivery workers: drain the outbox through the platform adapters.

Each worker ("lane") sends one message at a time and records it before and after the
platform call, so a crash can leave at most one message per lane in doubt. Several lanes,
in one process or many (PostgreSQL), share the outbox safely; throughput comes from lanes,
and each adapter keeps to its platform's rate limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers import metrics, relay_order, reply_codec
from ccin_bridge.handlers.delivery_report import report_reply
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.relay_erasure import strip_settled
from ccin_bridge.scheduler.outbound import (
    UNEXPECTED,
    Away,
    Blocked,
    MaybeSent,
    Outbound,
    Relayer,
    RetryLater,
    Undeliverable,
    describe,
)
from ccin_bridge.store import audiences, outbox
from ccin_bridge.store import relay as store_relay
from ccin_bridge.store.db import Database
from ccin_bridge.store.outbox import DeliveryJob, Target

log = logging.getLogger(__name__)

SETTLE_ATTEMPTS = 5
STOP_GRACE = 3.0  # seconds: a stopping service must not hold up the process's shutdown
FAILED_WAIT = 1.0  # seconds: a lane that failed (the database away?) tries again after this


@dataclass(frozen=True)
class DeliveryPolicy:
    lanes: int = 4
    batch: int = 20  # rows a lane claims at a time
    # How often the idle lookout reads the outbox. Work queued in this process wakes the lanes
    # as it commits, and the lookout sleeps only until the next delivery falls due, so this
    # bounds only how soon work another process queued (the CLI's broadcast, a second bridge)
    # is found.
    poll_seconds: float = 5.0
    lease: timedelta = timedelta(minutes=2)  # a row held longer belongs to a dead worker
    max_attempts: int = 8
    expire_after: timedelta = timedelta(days=3)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... capped at 15 minutes."""
    return timedelta(seconds=min(5 * 2 ** max(0, attempts - 1), 900))


async def queue_reports(session: AsyncSession, push_ids: Collection[int]) -> None:
    """Queue the delivery report of each of these pushes whose last delivery has settled, once
    (whoever settled it: a lane, or the terminal chat showing what was kept for its person)."""
    for push_id in await outbox.unreported_finished(session, push_ids):
        if not await outbox.take_report_turn(session, push_id):
            continue
        report = await outbox.report(session, push_id)
        creator = await outbox.creator_of(session, push_id)
        if report is None or creator is None:
            continue
        await outbox.create_push(
            session,
            kind="report",
            payload=reply_codec.encode(report_reply(report)),
            targets=await audiences.person_targets(session, creator),
            title=f"Delivery report for #{push_id}",
            subject_id=creator,
        )


Record = Callable[[AsyncSession], Awaitable[None]]


def _sent_and(after: Record | None) -> Callable[[AsyncSession, int], Awaitable[None]]:
    """Mark a delivery sent and, in the same unit of work, record what its send made."""

    async def record(session: AsyncSession, delivery_id: int) -> None:
        await outbox.mark_sent(session, delivery_id)
        if after is not None:
            await after(session)

    return record


class DeliveryService:
    """Runs the lanes for every platform that has an outbound adapter in this process."""

    def __init__(
        self,
        db: Database,
        outbound: Mapping[str, Outbound],
        policy: DeliveryPolicy | None = None,
        name: str | None = None,
    ) -> None:
        self.db = db
        self.outbound = dict(outbound)
        self.policy = policy or DeliveryPolicy()
        self.name = name or worker_name()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        # One per lane, set together: a lane clearing its own loses no other lane's wake-up.
        self._wakes: list[asyncio.Event] = []
        self._look = asyncio.Event()  # the lookout reads again now (a round of sends ended)
        self._unsubscribe: Callable[[], None] | None = None
        self._busy = 0  # lanes between claiming a batch and settling its reports

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        for wake in self._wakes:
            wake.set()

    @property
    def running(self) -> bool:
        """Started, not stopped, and no lane has ended (for /readyz)."""
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    async def start(self) -> None:
        async with self.db.session() as session:
            doubtful = await outbox.recover_stale(session, lease=self.policy.lease)
            await self._expire(session)
        if doubtful:
            log.warning("%d deliveries were mid-send when a worker stopped: retrying", doubtful)
        self._stopping.clear()
        self._wakes = [asyncio.Event() for _ in range(self.policy.lanes)]
        loop = asyncio.get_running_loop()

        def queued() -> None:  # in the committing thread, which need not be the loop's
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to wake
                loop.call_soon_threadsafe(self.wake)

        self._unsubscribe = outbox.on_queued(self.db.engine, outbox.DELIVERIES, queued)
        self._tasks = [
            asyncio.create_task(self._lane(f"{self.name}/{n}", wake), name=f"delivery-lane-{n}")
            for n, wake in enumerate(self._wakes)
        ]
        self._tasks.append(asyncio.create_task(self._lookout(), name="delivery-lookout"))
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="delivery-recovery"))

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Let each lane finish the send under way, for `grace` seconds in all; a lane still
        sending then is cancelled (its row is taken back as in doubt, after the lease)."""
        self._stopping.set()
        self.wake()
        self._look.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)
        self._tasks = []

    async def drain(self) -> None:
        """Wait until nothing is due for these platforms (tests, the CLI's broadcast); callers
        bound the wait with `asyncio.timeout`."""
        while True:
            async with self.db.read() as session:
                unfinished = await outbox.has_unfinished(session, self.outbound)
            # A lane that just sent a push's last message may still be queueing its report.
            if not unfinished and self._busy == 0:
                return
            self.wake()
            await asyncio.sleep(0.05)

    async def _expire(self, session: AsyncSession) -> None:
        # A push whose last deliveries expired has settled: its sender is owed the report,
        # as when a lane settles it.
        expired = await outbox.expire(session, older_than=self.policy.expire_after)
        if expired:
            log.warning(
                "deliveries of %d pushes expired: their platform was not running", len(expired)
            )
            await queue_reports(session, expired)

    async def _housekeeping(self) -> None:
        """While running, take back rows that another (crashed) worker held past the lease,
        so a quick restart elsewhere does not leave them stuck until the next start."""
        interval = max(1.0, self.policy.lease.total_seconds() / 2)
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=interval)
            if self._stopping.is_set():
                return
            try:
                async with self.db.session() as session:
                    doubtful = await outbox.recover_stale(session, lease=self.policy.lease)
                    await self._expire(session)
                if doubtful:
                    log.warning("%d deliveries held by a stopped worker: retrying", doubtful)
                    self.wake()
            except Exception:
                log.exception("delivery recovery failed; will try again")

    async def _lane(self, lane: str, wake: asyncio.Event) -> None:
        """Send until nothing is due, then sleep until woken: by work queued in this process,
        the lookout (something fell due), a full batch (more may be waiting) or stop()."""
        failed = busy = False
        while not self._stopping.is_set():
            wake.clear()  # before looking: a wake-up while it looks ends the wait below at once
            try:
                # After a failure, claim at once: what this lane had claimed is taken up again.
                done, failed = await self.run_once(lane, peek=not failed), False
            except Exception:
                log.exception("delivery lane %s failed; carrying on", lane)
                done, failed = 0, True
            if done:
                busy = True
                if done >= self.policy.batch:
                    self.wake()  # more may be due: every lane helps
                continue
            if busy:  # a round ended: the lookout reads when its retries fall due
                busy = False
                self._look.set()
            if not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), FAILED_WAIT if failed else None)
        async with self.db.session() as session:
            await outbox.release(session, lane)

    async def _lookout(self) -> None:
        """Wake the lanes when the next pending delivery falls due, and read at least every
        `poll_seconds` for work another process queued: idle, that is one read a poll. It
        sends nothing itself, so a slow send never keeps it from looking."""
        while self.outbound and not self._stopping.is_set():
            self._look.clear()
            wait = self.policy.poll_seconds
            try:
                async with self.db.read() as session:
                    due = await outbox.next_due(session, list(self.outbound))
            except Exception:
                log.warning("the delivery lookout could not read the outbox", exc_info=True)
                due = None
            if due is not None:
                until_due = (due - datetime.now(UTC)).total_seconds()
                if until_due <= 0:
                    self.wake()  # the lanes take it from here, and say when they are done
                else:
                    wait = min(wait, until_due)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._look.wait(), wait)
        await self._stopping.wait()  # no platform here: nothing to look for

    async def run_once(self, lane: str | None = None, *, peek: bool = True) -> int:
        """Claim one batch and send it; returns how many deliveries were settled.

        With `peek`, a read comes first: when nothing is due (an idle bridge, nearly always),
        no claim is written, and on SQLite the writers' lock is not taken. Without it, rows
        this lane claimed before (a round that failed half-way) are taken up too."""
        lane = lane or self.name
        if not self.outbound:
            return 0
        if peek:
            async with self.db.read() as session:
                due = await outbox.next_due(session, list(self.outbound))
            if due is None or due > datetime.now(UTC):
                return 0
        self._busy += 1
        try:
            async with self.db.session() as session:
                jobs = await outbox.claim(
                    session, worker=lane, platforms=list(self.outbound), limit=self.policy.batch
                )
            for job in jobs:
                if self._stopping.is_set():
                    break  # the rest are released as never tried
                await self._deliver(job, lane)
            await self._report_finished({job.push_id for job in jobs})
        finally:
            self._busy -= 1
        return len(jobs)

    async def _deliver(self, job: DeliveryJob, lane: str) -> None:
        async with self.db.session() as session:
            if not await outbox.mark_sending(session, job.id, lane):
                return  # held past the lease and taken back: another worker sends it
        platform = job.platform
        chat = ChatRef(platform, job.chat_id, is_private=job.is_private)
        # What is recorded (and shown to admins in delivery reports) is a short category from
        # `describe`; the exception's own text, which may carry URLs or answers, is logged only.
        after: Record | None = None
        try:
            if relay_order.is_order(job.payload):
                after = await self._relay(job, chat)
            else:
                reply = reply_codec.decode(job.payload)
                await self.outbound[job.platform].send(chat=chat, reply=reply)
        except Blocked as exc:
            await self._settle(outbox.mark_blocked, job.id, describe(exc))
        except Undeliverable as exc:
            await self._settle(outbox.mark_failed, job.id, describe(exc))
        except Away as exc:  # kept until the person is back, never failed for it
            await self._settle(outbox.mark_waiting, job.id, describe(exc))
        except (ValueError, KeyError) as exc:  # a stored reply this chat cannot take
            log.warning("delivery %d to %s cannot be sent: %r", job.id, job.platform, exc)
            await self._settle(outbox.mark_failed, job.id, "the bridge could not send this message")
        except RetryLater as exc:
            metrics.RATE_LIMIT_WAITS.labels(platform=job.platform).inc()
            # On an ordered lane a rate limit never uses up the attempts: late, never lost.
            counted = job.lane is None
            await self._retry(job, timedelta(seconds=exc.seconds), exc, counted=counted)
        except (MaybeSent, TimeoutError) as exc:
            # The platform may have the message already (a timeout the adapter did not place
            # counts too): send again rather than lose it, and report it as a possible repeat.
            await self._retry(job, backoff(job.attempts), exc, in_doubt=True)
        except Exception as exc:  # network, 5xx, anything unknown: transient
            await self._retry(job, backoff(job.attempts), exc)
        else:
            await self._settle(_sent_and(after), job.id)

    async def _relay(self, job: DeliveryJob, chat: ChatRef) -> Record | None:
        """Carry out a relay order in one chat; returns what to record with its success.
        The copy's id there is looked up now: the order that made it went before, in this
        chat's ordered lane."""
        order = relay_order.decode(job.payload)
        adapter = self.outbound[job.platform]
        if not isinstance(adapter, Relayer):
            raise Undeliverable(f"{job.platform} does not relay messages")
        async with self.db.read() as session:
            relayed = None
            if order.relay_id is not None:
                relayed = await store_relay.get(session, order.relay_id)
            parent = None
            if order.reply_to is not None:
                parent = await store_relay.get(session, order.reply_to)
        # The message's id in this chat: its copy's, or the original's where it was posted.
        here = relayed.id_in(chat.platform, chat.chat_id) if relayed else None
        if order.action == "post":
            if relayed is None or here is not None or order.copy is None:
                return None  # forgotten meanwhile, or posted already (a retry in doubt)
            thread = parent.id_in(chat.platform, chat.chat_id) if parent is not None else None
            message_id = await adapter.post_copy(chat=chat, copy=order.copy, thread=thread)
            relay_id = relayed.id

            async def made(session: AsyncSession) -> None:
                if await store_relay.get(session, relay_id) is None:
                    # Erased while the copy was being posted: it goes as soon as it is up.
                    known = {relay_order.chat_key(chat.platform, chat.chat_id): message_id}
                    await outbox.create_push(
                        session,
                        kind="relay",
                        payload=relay_order.encode(
                            relay_order.RelayOrder("delete", None, known=known)
                        ),
                        targets=[Target(chat.platform, chat.chat_id, is_private=False)],
                        title="Erased",
                        lane=outbox.RELAY,
                    )
                    return
                await store_relay.record_copy(
                    session,
                    relay_id=relay_id,
                    platform=chat.platform,
                    chat_id=chat.chat_id,
                    message_id=message_id,
                )

            return made
        if order.action == "edit":
            if here is not None and order.copy is not None:
                await adapter.edit_copy(chat=chat, message_id=here, copy=order.copy)
            return None
        gone = here or order.known.get(relay_order.chat_key(chat.platform, chat.chat_id))
        if gone is not None:
            await adapter.delete_copy(chat=chat, message_id=gone)
        if relayed is None:
            return None
        relay_id = relayed.id

        async def unmade(session: AsyncSession) -> None:
            await store_relay.forget_copy(
                session, relay_id=relay_id, platform=chat.platform, chat_id=chat.chat_id
            )

        return unmade

    async def _retry(
        self,
        job: DeliveryJob,
        delay: timedelta,
        exc: Exception,
        *,
        in_doubt: bool = False,
        counted: bool = True,
    ) -> None:
        error = describe(exc)
        unknown = error == UNEXPECTED  # nothing placed it: log where it came from
        log.log(
            logging.WARNING if unknown else logging.INFO,
            "delivery %d to %s will be retried%s: %s (%r)",
            job.id,
            job.platform,
            ", flagged in doubt" if in_doubt else "",
            error,
            exc.__cause__ or exc,
            exc_info=exc if unknown else None,
        )
        await self._settle(
            outbox.mark_retry,
            job.id,
            delay=delay,
            error=error,
            max_attempts=self.policy.max_attempts,
            in_doubt=in_doubt,
            counted=counted,
        )

    async def _settle(
        self, record: Callable[..., Awaitable[object]], *args: object, **kwargs: object
    ) -> None:
        """Record a delivery's outcome, trying again if the database is briefly unavailable:
        once the platform has the message, losing the record would send it twice."""
        for attempt in range(SETTLE_ATTEMPTS):
            try:
                async with self.db.session() as session:
                    await record(session, *args, **kwargs)
                return
            except Exception:
                if attempt == SETTLE_ATTEMPTS - 1:
                    raise
                log.warning("could not record delivery %s; retrying", args[0], exc_info=True)
                await asyncio.sleep(0.2 * 2**attempt)

    async def _report_finished(self, push_ids: set[int]) -> None:
        """Tell whoever sent a push how it went, once, when its last delivery settles."""
        async with self.db.session() as session:
            await queue_reports(session, push_ids)
            await strip_settled(session, push_ids)  # a relayed text is kept no longer
        if push_ids:
            self.wake()
