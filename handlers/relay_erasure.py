"""Erasure of a person's relayed messages (their `/forgetme`, or retention)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers.relay_order import RelayOrder, chat_key, encode
from ccin_bridge.store import outbox
from ccin_bridge.store import relay as store_relay
from ccin_bridge.store.outbox import Target


async def forget_person(session: AsyncSession, person_id: int) -> int:
    """Erasure: queue the deletion of every copy of the person's relayed messages (where the
    platform lets the bot delete its own messages), then drop the mappings. Returns how many
    copies are to go."""
    queued = 0
    for relayed in await store_relay.of_person(session, person_id):
        known = {chat_key(p, c): m for (p, c), m in relayed.copies.items()}
        targets = [Target(p, c, is_private=False) for p, c in relayed.copies]
        if targets:
            await outbox.create_push(
                session,
                kind="relay",
                payload=encode(RelayOrder("delete", None, known=known)),
                targets=targets,
                title="Erased",
                lane=outbox.RELAY,
            )
            queued += len(targets)
        await store_relay.forget(session, relayed.id)
    return queued
