"""Chat actions are leased: a starting process never redoes what another is doing, a stopped
process's work comes back once its lease runs out, and a clean stop gives back the rest."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from ccin_bridge.scheduler.chat_actions import ChatActionService
from ccin_bridge.store import chat_actions, people
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import ChatAction, utcnow
from tests.handlers.groups_support import OFFICERS_TG, FakeChatAdmin


async def _queue_invites(db: Database, n: int) -> None:
    async with db.session() as session:
        for i in range(n):
            person, identity_id = await people.touch(
                session,
                platform="telegram",
                external_id=str(700_000_000 + i),
                display_name=f"Person {i}",
                username=None,
            )
            await chat_actions.enqueue(
                session,
                kind=chat_actions.INVITE,
                person_id=person.id,
                identity_id=identity_id,
                group_slug="officers",
                platform="telegram",
                chat_id=OFFICERS_TG,
            )


async def _statuses(db: Database) -> list[tuple[str, int]]:
    async with db.read() as session:
        rows = await session.execute(
            select(ChatAction.status, ChatAction.attempts).order_by(ChatAction.id)
        )
        return [(status, attempts) for status, attempts in rows.all()]


async def test_a_starting_process_leaves_another_processs_running_actions_alone(
    db: Database,
) -> None:
    await _queue_invites(db, 1)
    async with db.session() as session:  # another process is doing it right now
        assert await chat_actions.claim(session, platforms=["telegram"], limit=10)
    admin = FakeChatAdmin("telegram")
    starting = ChatActionService(db, {"telegram": admin})
    await starting.start()
    try:
        assert await starting.run_once() == 0
    finally:
        await starting.stop()
    assert admin.calls == []  # not invited a second time
    assert await _statuses(db) == [(chat_actions.RUNNING, 1)]


async def test_an_action_held_past_its_lease_is_taken_again(db: Database) -> None:
    await _queue_invites(db, 1)
    then = utcnow()
    async with db.session() as session:
        assert await chat_actions.claim(session, platforms=["telegram"], limit=10, now=then)
    async with db.session() as session:
        soon = then + chat_actions.LEASE - timedelta(seconds=5)
        assert await chat_actions.claim(session, platforms=["telegram"], limit=10, now=soon) == []
    async with db.session() as session:
        later = then + chat_actions.LEASE + timedelta(seconds=5)
        (again,) = await chat_actions.claim(session, platforms=["telegram"], limit=10, now=later)
    assert again.attempts == 2


class SlowChatAdmin(FakeChatAdmin):
    def __init__(self) -> None:
        super().__init__("telegram")
        self.started = asyncio.Event()

    async def admit(self, *, chat_id: str, user_id: str, label: str) -> str | None:
        self.started.set()
        await asyncio.sleep(60)  # a platform that does not answer
        return None


async def test_a_clean_stop_gives_back_what_it_claimed_and_did_not_finish(db: Database) -> None:
    await _queue_invites(db, 3)
    admin = SlowChatAdmin()
    service = ChatActionService(db, {"telegram": admin})
    await service.start()
    async with asyncio.timeout(10):
        await admin.started.wait()
    await service.stop(grace=0.1)
    # All due again at once; the attempt broken off counts (a platform that never answers
    # still runs out of attempts), the two never begun do not.
    assert await _statuses(db) == [(chat_actions.PENDING, 1)] + [(chat_actions.PENDING, 0)] * 2
    async with db.session() as session:
        assert len(await chat_actions.claim(session, platforms=["telegram"], limit=10)) == 3


async def test_an_action_another_process_took_meanwhile_is_neither_done_nor_recorded(
    db: Database,
) -> None:
    await _queue_invites(db, 2)
    async with db.session() as session:  # this worker's batch
        first, second = await chat_actions.claim(session, platforms=["telegram"], limit=10)
    later = utcnow() + chat_actions.LEASE + timedelta(seconds=1)
    async with db.session() as session:  # it took too long: another process takes over
        taken = await chat_actions.claim(session, platforms=["telegram"], limit=10, now=later)
    assert [j.id for j in taken] == [first.id, second.id]
    async with db.session() as session:
        assert await chat_actions.renew(session, second, utcnow()) is None  # not its now
        assert await chat_actions.finish(session, first) == chat_actions.TAKEN
        await chat_actions.release(session, first, tried=True)  # gives back nothing
    assert await _statuses(db) == [(chat_actions.RUNNING, 2)] * 2  # the other's, untouched
    async with db.session() as session:  # the other worker records its outcome
        assert await chat_actions.finish(session, taken[0]) == chat_actions.DONE


async def test_running_actions_from_before_leases_are_due_again(db: Database) -> None:
    await _queue_invites(db, 1)
    async with db.session() as session:  # as the old version left it: running, no claim
        await session.execute(
            update(ChatAction).values(status=chat_actions.RUNNING, claimed_at=None)
        )
    async with db.session() as session:
        assert len(await chat_actions.claim(session, platforms=["telegram"], limit=10)) == 1
