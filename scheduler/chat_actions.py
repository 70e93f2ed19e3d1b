"""The chat-action worker: does queued invites and removals through each platform's ChatAdmin.

An invite asks the platform to let the person in (Telegram: a join-request link only they are
approved through; Slack: a direct add) and DMs them the link through the outbox. Failures
are retried with backoff; one that gives up is reported to admins. After a removal, an erasure
that was waiting for it (/forgetme) is completed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.plural import plural
from ccin_bridge.handlers.replies import Reply, ReplyBuilder, Span, bold
from ccin_bridge.scheduler.outbound import Blocked, ChatAdmin, RetryLater, Undeliverable, describe
from ccin_bridge.store import audiences, audit, chat_actions, erasure, outbox
from ccin_bridge.store.chat_actions import ChatActionJob
from ccin_bridge.store.db import Database
from ccin_bridge.store.outbox import Target

log = logging.getLogger(__name__)
# Seconds: due work another process was claiming when the worker looked is looked at this soon.
MIN_WAIT = 0.05


@dataclass(frozen=True)
class ChatActionPolicy:
    batch: int = 10
    # The longest the idle worker sleeps: an action queued in this process wakes it as it
    # commits, and it sleeps only until the next one falls due, so this bounds only how soon
    # it finds an action another process queued.
    poll_seconds: float = 5.0
    max_attempts: int = 6


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... capped at an hour: chat admin calls are rare and rate limited."""
    return timedelta(seconds=min(30 * 2 ** max(0, attempts - 1), 3600))


class ChatActionService:
    def __init__(
        self,
        db: Database,
        admins: Mapping[str, ChatAdmin],
        policy: ChatActionPolicy | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        self.db = db
        self.admins = dict(admins)
        self.policy = policy or ChatActionPolicy()
        self.settings = settings
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._next_due: datetime | None = None  # when `claim` next finds work, as last read
        self._unsubscribe: Callable[[], None] | None = None
        # Claimed by this worker and not finished, by id, with whether it was begun.
        self._held: dict[int, tuple[ChatActionJob, bool]] = {}

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        # Nothing is reset here: what a stopped process was doing comes back by its lease
        # (store/chat_actions.py), and another process's running work stays its own.
        self._stopping.clear()
        loop = asyncio.get_running_loop()

        def queued() -> None:  # in the committing thread, which need not be the loop's
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to wake
                loop.call_soon_threadsafe(self.wake)

        self._unsubscribe = outbox.on_queued(self.db.engine, outbox.CHAT_ACTIONS, queued)
        self._task = asyncio.create_task(self._loop(), name="chat-actions")

    async def stop(self, grace: float = 3.0) -> None:
        """Let the change under way finish for `grace` seconds, then cancel it; whatever this
        worker claimed and did not finish is given back, to be done again by any process."""
        self._stopping.set()
        self._wake.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            with contextlib.suppress(TimeoutError):  # wait_for has cancelled it then
                await asyncio.wait_for(self._task, timeout=grace)
            self._task = None
        held, self._held = self._held, {}
        if held:
            try:
                async with self.db.session() as session:
                    for job, tried in held.values():
                        await chat_actions.release(session, job, tried=tried)
            except Exception:  # the database is gone: the lease hands them back instead
                log.warning("could not give back %d chat actions; their lease will", len(held))

    async def drain(self) -> None:
        """Run until nothing is due (tests); callers bound the wait with `asyncio.timeout`."""
        while await self.run_once():
            pass

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before looking: a wake-up while it looks ends the wait at once
            try:
                done = await self.run_once()
            except Exception:
                log.exception("chat action worker failed; carrying on")
                done = 0
                # Not at once (the database may be away): a second, as the delivery lanes do.
                self._next_due = datetime.now(UTC) + timedelta(seconds=1)
            if done == 0 and not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._idle_wait())

    def _idle_wait(self) -> float:
        """Seconds until the next action falls due, at most `poll_seconds`."""
        if self._next_due is None:
            return self.policy.poll_seconds
        until_due = (self._next_due - datetime.now(UTC)).total_seconds()
        return min(self.policy.poll_seconds, max(MIN_WAIT, until_due))

    async def run_once(self) -> int:
        """Claim one batch and do it; returns how many actions were tried."""
        if not self.admins:
            return 0
        # A read first: when nothing is due (nearly always), nothing is locked or written.
        async with self.db.read() as session:
            self._next_due = await chat_actions.next_due(session, platforms=list(self.admins))
        if self._next_due is None or self._next_due > datetime.now(UTC):
            return 0
        async with self.db.session() as session:
            jobs = await chat_actions.claim(
                session, platforms=list(self.admins), limit=self.policy.batch
            )
        self._held.update((job.id, (job, False)) for job in jobs)
        for claimed in jobs:
            if self._stopping.is_set():
                break  # the rest are given back by stop(), never tried
            # Its lease runs from now; if the batch took so long that another process took
            # it meanwhile, it is that one's.
            now = datetime.now(UTC)
            # Held under its new stamp already: a stop that comes while it is renewed gives
            # it back under that stamp, or finds it not renewed and leaves it to its lease.
            self._held[claimed.id] = (replace(claimed, claimed_at=now), True)
            async with self.db.session() as session:
                job = await chat_actions.renew(session, claimed, now)
            if job is None:
                self._held.pop(claimed.id, None)
                continue
            try:
                await self._do(job)
            except Exception:  # recording the outcome failed: do it again later, not never
                log.exception("chat action %d could not be recorded; it will be retried", job.id)
                await self._requeue(job)
            self._held.pop(job.id, None)
        await self._finish_erasures({job.person_id for job in jobs})
        return len(jobs)

    async def _requeue(self, job: ChatActionJob) -> None:
        try:
            async with self.db.session() as session:
                await chat_actions.finish(
                    session,
                    job,
                    error="could not record the outcome",
                    retry_in=backoff(job.attempts),
                    max_attempts=self.policy.max_attempts,
                )
        except Exception:  # its lease runs out and any process takes it again
            log.exception("chat action %d stays running until its lease runs out", job.id)

    async def _do(self, job: ChatActionJob) -> None:
        admin = self.admins[job.platform]
        link: str | None = None
        error: str | None = None
        retry: timedelta | None = None
        try:
            if job.kind == chat_actions.INVITE:
                link = await admin.admit(
                    chat_id=job.chat_id, user_id=job.user_id, label=self._label(job)
                )
            else:
                await admin.remove(chat_id=job.chat_id, user_id=job.user_id)
        # A short category is recorded and may reach admins; the exception itself is logged.
        except RetryLater as exc:
            error, retry = describe(exc), timedelta(seconds=max(exc.seconds, 1))
        except (Blocked, Undeliverable) as exc:
            log.info("chat action %d (%s) refused: %r", job.id, job.kind, exc.__cause__ or exc)
            error = describe(exc)
        except Exception as exc:  # transient by contract: retried with backoff
            log.warning("chat action %d (%s) failed: %r", job.id, job.kind, exc.__cause__ or exc)
            error, retry = describe(exc), backoff(job.attempts)
        async with self.db.session() as session:
            status = await chat_actions.finish(
                session,
                job,
                error=error,
                retry_in=retry,
                max_attempts=self.policy.max_attempts,
            )
            if status == chat_actions.DONE and job.kind == chat_actions.INVITE:
                await self._send_invite(session, job, link)
            if status == chat_actions.FAILED:
                await audit.record(
                    session,
                    actor_id=None,
                    action=f"chat.{job.kind}_failed",
                    subject_id=job.person_id,
                    group=job.group_slug,
                    person=job.person_id,
                    platform=job.platform,
                    error=(error or "")[:200],
                )
                await self._tell_admins(session, job, error or "")

    def _group_name(self, slug: str) -> str:
        group = self.settings.group(slug) if self.settings is not None else None
        return group.name if group is not None else slug

    def _label(self, job: ChatActionJob) -> str:
        return f"{self._group_name(job.group_slug)} #{job.person_id}"[:32]

    async def _send_invite(
        self, session: AsyncSession, job: ChatActionJob, link: str | None
    ) -> None:
        name = self._group_name(job.group_slug)
        builder = ReplyBuilder().heading(f"Your invitation to {name}")
        if link is None:
            builder.para("You have been added to the ", bold(name), " chat. Welcome!")
        else:
            builder.para(
                "Here is your personal link to the ",
                bold(name),
                " chat: ",
                Span(link, link=link),
            ).para("It is for you alone: I let in only approved members.")
        reply = builder.build(private=True)
        await outbox.create_push(
            session,
            kind="invite",
            payload=reply_codec.encode(reply),
            targets=[Target(job.platform, job.user_id, job.identity_id, is_private=True)],
            key=f"invite:{job.id}",
            title=f"Invitation to {name}",
            subject_id=job.person_id,
        )

    async def _tell_admins(self, session: AsyncSession, job: ChatActionJob, error: str) -> None:
        what = "invite" if job.kind == chat_actions.INVITE else "remove"
        reply: Reply = (
            ReplyBuilder()
            .heading(f"Could not {what} someone in a group chat")
            .para(
                f"I could not {what} person #{job.person_id} on {job.platform} in the chat of ",
                bold(self._group_name(job.group_slug)),
                f" after {plural(job.attempts, 'attempt')}: {error[:200]}",
            )
            .para("Please check that the bot is still an admin of that chat, and do it by hand.")
            .build(private=True)
        )
        targets = await audiences.admin_targets(
            session, self.settings.admins if self.settings is not None else ()
        )
        if targets:
            await outbox.create_push(
                session,
                kind="admin",
                payload=reply_codec.encode(reply),
                targets=targets,
                key=f"chat-action-failed:{job.id}",
                title="A chat change failed",
                subject_id=job.person_id,
            )

    async def _finish_erasures(self, person_ids: set[int]) -> None:
        if not person_ids:
            return
        async with self.db.session() as session:
            waiting = set(await erasure.erasures_waiting(session))
            for person_id in set(person_ids) & waiting:
                await erasure.finish_erasure(session, person_id)
