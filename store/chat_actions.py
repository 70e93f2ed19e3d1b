"""Queued changes to real chats (invite, remove), done by a worker through each platform."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store import outbox
from ccin_bridge.store.models import ChatAction, ChatAlias, Identity, utcnow

INVITE, REMOVE = "invite", "remove"
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
TAKEN = "taken"  # `finish`: another worker holds the action now; this one records nothing
LEASE = timedelta(minutes=2)  # a chat admin call takes seconds; held longer, its worker died


@dataclass(frozen=True)
class ChatActionJob:
    id: int
    kind: str
    person_id: int
    identity_id: int
    group_slug: str
    platform: str
    chat_id: str
    user_id: str
    attempts: int
    claimed_at: datetime  # this worker's claim: what it finishes or gives back must match it


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    person_id: int,
    identity_id: int,
    group_slug: str,
    platform: str,
    chat_id: str,
) -> None:
    """Queue one change; a pending one for the same person and chat is superseded."""
    await session.execute(
        update(ChatAction)
        .where(
            ChatAction.identity_id == identity_id,
            ChatAction.chat_id == chat_id,
            ChatAction.platform == platform,
            ChatAction.status == PENDING,
        )
        .values(status=DONE, error="superseded", done_at=utcnow())
    )
    session.add(
        ChatAction(
            kind=kind,
            person_id=person_id,
            identity_id=identity_id,
            group_slug=group_slug,
            platform=platform,
            chat_id=chat_id,
            status=PENDING,
        )
    )
    outbox.queued(session, outbox.CHAT_ACTIONS)


async def next_due(
    session: AsyncSession, *, platforms: Collection[str], lease: timedelta = LEASE
) -> datetime | None:
    """When `claim` will next find something for these platforms (None: nothing is queued):
    a pending action's next attempt, or the end of a running one's lease (its worker may have
    stopped; one from before leases, with no claim time, counts from its last due time)."""
    live = ChatAction.platform.in_(list(platforms))
    pending, running = (
        await session.execute(
            select(
                func.min(case((ChatAction.status == PENDING, ChatAction.next_attempt_at))),
                func.min(
                    case(
                        (
                            ChatAction.status == RUNNING,
                            func.coalesce(ChatAction.claimed_at, ChatAction.next_attempt_at),
                        )
                    )
                ),
            ).where(live, ChatAction.status.in_([PENDING, RUNNING]))
        )
    ).one()
    ends = running + lease if running is not None else None
    times = [t for t in (pending, ends) if t is not None]
    return min(times, default=None)


async def claim(
    session: AsyncSession,
    *,
    platforms: Collection[str],
    limit: int,
    now: datetime | None = None,
    lease: timedelta = LEASE,
) -> list[ChatActionJob]:
    """Take due actions, and running ones whose worker has held them past the lease (its
    process stopped): changes to chats are idempotent, so doing one again is safe, and no
    starting process resets the work of another that is still running."""
    now = now or utcnow()
    due = and_(ChatAction.status == PENDING, ChatAction.next_attempt_at <= now)
    stale = or_(ChatAction.claimed_at.is_(None), ChatAction.claimed_at < now - lease)
    abandoned = and_(ChatAction.status == RUNNING, stale)
    query = (
        select(ChatAction, Identity.external_id)
        .join(Identity, Identity.id == ChatAction.identity_id)
        .where(or_(due, abandoned), ChatAction.platform.in_(list(platforms)))
        .order_by(ChatAction.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=ChatAction)
    jobs = []
    for action, user_id in (await session.execute(query)).all():
        action.status, action.claimed_at = RUNNING, now
        action.attempts += 1
        jobs.append(
            ChatActionJob(
                id=action.id,
                kind=action.kind,
                person_id=action.person_id,
                identity_id=action.identity_id,
                group_slug=action.group_slug,
                platform=action.platform,
                chat_id=await resolve_chat(session, action.platform, action.chat_id),
                user_id=user_id,
                attempts=action.attempts,
                claimed_at=now,
            )
        )
    return jobs


async def renew(session: AsyncSession, job: ChatActionJob, now: datetime) -> ChatActionJob | None:
    """Just before doing a claimed action: its lease runs from now, if it is still this
    worker's (a batch can take long enough for another process to take its tail); None if
    another worker holds it now."""
    result = await session.execute(
        update(ChatAction).where(_held_by(job), ChatAction.status == RUNNING).values(claimed_at=now)
    )
    return replace(job, claimed_at=now) if getattr(result, "rowcount", 0) else None


def _held_by(job: ChatActionJob) -> ColumnElement[bool]:
    return and_(ChatAction.id == job.id, ChatAction.claimed_at == job.claimed_at)


async def finish(
    session: AsyncSession,
    job: ChatActionJob,
    *,
    error: str | None = None,
    retry_in: timedelta | None = None,
    max_attempts: int = 6,
) -> str:
    """Record the outcome: done, back to pending after `retry_in`, or failed. Returns the
    status, or TAKEN (nothing recorded) if another worker holds the action now."""
    # Locked until the outcome is committed: a worker taking it over meanwhile waits, then
    # finds it finished (PostgreSQL; SQLite's writers take turns anyway).
    action = await session.scalar(select(ChatAction).where(_held_by(job)).with_for_update())
    if action is None or action.status != RUNNING:
        return TAKEN
    action.claimed_at = None
    if error is None:
        action.status, action.error, action.done_at = DONE, None, utcnow()
    elif retry_in is not None and action.attempts < max_attempts:
        action.status, action.error = PENDING, error[:500]
        action.next_attempt_at = utcnow() + retry_in
    else:
        action.status, action.error, action.done_at = FAILED, error[:500], utcnow()
    return action.status


async def release(session: AsyncSession, job: ChatActionJob, *, tried: bool) -> None:
    """A stopping worker gives back an action it claimed and did not finish, if it still
    holds it: due again at once; an attempt it never began is not counted (one it began and
    broke off is, so a platform that never answers still runs out of attempts)."""
    values: dict[str, Any] = {"status": PENDING, "claimed_at": None}
    if not tried:
        values["attempts"] = ChatAction.attempts - 1
    await session.execute(
        update(ChatAction).where(_held_by(job), ChatAction.status == RUNNING).values(**values)
    )


# --- chats the platform moved ----------------------------------------------------------------


async def record_migration(session: AsyncSession, platform: str, old: str, new: str) -> None:
    alias = await session.get(ChatAlias, (platform, old))
    if alias is None:
        session.add(ChatAlias(platform=platform, old_chat_id=old, new_chat_id=new))
    else:
        alias.new_chat_id = new


async def resolve_chat(session: AsyncSession, platform: str, chat_id: str) -> str:
    """The chat's current id, following migrations (at most a few hops)."""
    for _ in range(5):
        alias = await session.get(ChatAlias, (platform, chat_id))
        if alias is None:
            break
        chat_id = alias.new_chat_id
    return chat_id


async def original_chat(session: AsyncSession, platform: str, chat_id: str) -> str:
    """The id config knows a migrated chat by (the reverse of `resolve_chat`)."""
    for _ in range(5):
        old = await session.scalar(
            select(ChatAlias.old_chat_id).where(
                ChatAlias.platform == platform, ChatAlias.new_chat_id == chat_id
            )
        )
        if old is None:
            break
        chat_id = old
    return chat_id
