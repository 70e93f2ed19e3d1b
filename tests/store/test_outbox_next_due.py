"""When the outbox and the chat-action queue next have work: what idle workers sleep until."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.replies import ReplyBuilder
from ccin_bridge.store import chat_actions, outbox
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import ChatAction, Delivery, utcnow
from ccin_bridge.store.outbox import Target
from tests.scheduler.test_chat_action_leases import _queue_invites


async def test_the_next_delivery_due_is_the_earliest_pending_one_of_these_platforms(
    db: Database,
) -> None:
    now = utcnow()
    async with db.session() as session:
        assert await outbox.next_due(session, ["terminal"]) is None
        await outbox.create_push(
            session,
            kind="broadcast",
            payload=reply_codec.encode(ReplyBuilder().para("Hi").build()),
            targets=[Target("terminal", c) for c in ("a", "b", "c")] + [Target("slack", "d")],
            now=now,
        )
        later = {"a": now + timedelta(minutes=5), "b": now + timedelta(minutes=1)}
        for chat, when in later.items():
            await session.execute(
                update(Delivery).where(Delivery.chat_id == chat).values(next_attempt_at=when)
            )
        await session.execute(
            update(Delivery)
            .where(Delivery.chat_id.in_(["c", "d"]))
            .values(status=outbox.SENT)  # settled: nothing more to do
        )
    async with db.read() as session:
        assert await outbox.next_due(session, ["terminal"]) == later["b"]
        assert await outbox.next_due(session, ["slack"]) is None


async def test_a_chat_action_is_due_at_its_next_attempt_or_when_its_lease_ends(
    db: Database,
) -> None:
    async with db.read() as session:
        assert await chat_actions.next_due(session, platforms=["telegram"]) is None
    await _queue_invites(db, 2)
    now = utcnow()
    async with db.session() as session:
        (first,) = await chat_actions.claim(session, platforms=["telegram"], limit=1, now=now)
        await session.execute(
            update(ChatAction)
            .where(ChatAction.id != first.id)
            .values(next_attempt_at=now + timedelta(hours=1))
        )
    async with db.read() as session:
        # The running one comes back when its lease ends, before the pending one's retry.
        assert await chat_actions.next_due(session, platforms=["telegram"]) == (
            now + chat_actions.LEASE
        )
        assert await chat_actions.next_due(session, platforms=["slack"]) is None
    async with db.session() as session:
        await chat_actions.finish(session, first)
    async with db.read() as session:
        assert await chat_actions.next_due(session, platforms=["telegram"]) == (
            now + timedelta(hours=1)
        )
