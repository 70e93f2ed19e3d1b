"""Erasure of a person's relayed messages (their `/forgetme`, or retention)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers.relay_order import RelayOrder, chat_key, decode, encode
from ccin_bridge.store import outbox
from ccin_bridge.store import relay as store_relay
from ccin_bridge.store.outbox import Target


async def forget_person(session: AsyncSession, person_id: int) -> int:
    """Erasure: queue the deletion of every copy of the person's relayed messages (where the
    platform lets the bot delete its own messages), then drop the mappings. Returns how many
    copies are to go. The text of everything they relayed goes from the outbox too: a copy
    not yet posted never will be."""
    for push_id, payload in await store_relay.relay_pushes(session, subject_id=person_id):
        await store_relay.rewrite_push(session, push_id, _without_copy(payload), title="Erased")
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


async def strip_settled(session: AsyncSession, push_ids: Collection[int]) -> None:
    """Once every delivery of a relay push has settled its copy's text is needed no more:
    the outbox keeps only ids (what was done, to which message)."""
    if not push_ids:
        return  # an idle lane's poll: not even a read
    for push_id, payload in await store_relay.relay_pushes(
        session, push_ids=push_ids, settled_only=True
    ):
        if decode(payload).copy is not None:
            await store_relay.rewrite_push(session, push_id, _without_copy(payload))


def _without_copy(payload: dict[str, Any]) -> dict[str, Any]:
    return encode(replace(decode(payload), copy=None))
