"""Relay mappings: a message posted in a group's bound chat, and its copies in the others.

Only ids are kept (the platforms' own message ids, opaque here) and whose message it was, so a
reply, an edit or a deletion of either the original or a copy finds every other one, and
erasure can take a person's copies down.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import (
    Delivery,
    Identity,
    Organisation,
    Person,
    Push,
    RelayCopy,
    RelayMessage,
)
from ccin_bridge.store.outbox import UNFINISHED
from ccin_bridge.store.upsert import insert_new


@dataclass(frozen=True)
class Relayed:
    """A relayed message: where it was posted, and every copy made of it so far."""

    id: int
    group_slug: str
    platform: str
    chat_id: str
    message_id: str
    person_id: int | None
    copies: dict[tuple[str, str], str]  # (platform, chat id) -> that copy's message id

    def id_in(self, platform: str, chat_id: str) -> str | None:
        """This message's id in one chat: the original's there, else its copy's (if made)."""
        if (platform, chat_id) == (self.platform, self.chat_id):
            return self.message_id
        return self.copies.get((platform, chat_id))


@dataclass(frozen=True)
class Sender:
    person_id: int
    name: str
    organisation: str | None
    forgetting: bool


async def sender(session: AsyncSession, platform: str, external_id: str) -> Sender | None:
    """Who posted a message, as the store knows them (None: an account it has never met)."""
    row = (
        await session.execute(
            select(Person.id, Person.display_name, Organisation.name, Person.forget_requested_at)
            .join(Identity, Identity.person_id == Person.id)
            .outerjoin(Organisation, Organisation.id == Person.organisation_id)
            .where(Identity.platform == platform, Identity.external_id == external_id)
        )
    ).first()
    if row is None:
        return None
    return Sender(int(row[0]), row[1] or "", row[2], row[3] is not None)


async def record_original(
    session: AsyncSession,
    *,
    group_slug: str,
    platform: str,
    chat_id: str,
    message_id: str,
    person_id: int | None,
) -> int | None:
    """Note a message about to be relayed; None if it was already (the platform said twice)."""
    statement = insert_new(session, RelayMessage).values(
        group_slug=group_slug,
        platform=platform,
        chat_id=chat_id,
        message_id=message_id,
        person_id=person_id,
    )
    found = await session.scalar(
        statement.on_conflict_do_nothing(
            index_elements=[RelayMessage.platform, RelayMessage.chat_id, RelayMessage.message_id]
        ).returning(RelayMessage.id)
    )
    return int(found) if found is not None else None


async def record_copy(
    session: AsyncSession, *, relay_id: int, platform: str, chat_id: str, message_id: str
) -> None:
    statement = insert_new(session, RelayCopy).values(
        relay_id=relay_id, platform=platform, chat_id=chat_id, message_id=message_id
    )
    await session.execute(
        statement.on_conflict_do_nothing(
            index_elements=[RelayCopy.relay_id, RelayCopy.platform, RelayCopy.chat_id]
        )
    )


async def forget_copy(session: AsyncSession, *, relay_id: int, platform: str, chat_id: str) -> None:
    await session.execute(
        delete(RelayCopy).where(
            RelayCopy.relay_id == relay_id,
            RelayCopy.platform == platform,
            RelayCopy.chat_id == chat_id,
        )
    )


async def get(session: AsyncSession, relay_id: int) -> Relayed | None:
    row = await session.get(RelayMessage, relay_id)
    if row is None:
        return None
    copies = await session.execute(
        select(RelayCopy.platform, RelayCopy.chat_id, RelayCopy.message_id).where(
            RelayCopy.relay_id == relay_id
        )
    )
    return Relayed(
        row.id,
        row.group_slug,
        row.platform,
        row.chat_id,
        row.message_id,
        row.person_id,
        {(p, c): m for p, c, m in copies},
    )


async def find(
    session: AsyncSession, platform: str, chat_id: str, message_id: str
) -> Relayed | None:
    """The relayed message this one is, as the original or as one of its copies."""
    found = await session.scalar(
        select(RelayMessage.id).where(
            RelayMessage.platform == platform,
            RelayMessage.chat_id == chat_id,
            RelayMessage.message_id == message_id,
        )
    )
    if found is None:
        found = await session.scalar(
            select(RelayCopy.relay_id).where(
                RelayCopy.platform == platform,
                RelayCopy.chat_id == chat_id,
                RelayCopy.message_id == message_id,
            )
        )
    return await get(session, found) if found is not None else None


async def is_copy(session: AsyncSession, platform: str, chat_id: str, message_id: str) -> bool:
    """Whether this message is one the bridge posted as a copy (never relayed again)."""
    found = await session.scalar(
        select(RelayCopy.id).where(
            RelayCopy.platform == platform,
            RelayCopy.chat_id == chat_id,
            RelayCopy.message_id == message_id,
        )
    )
    return found is not None


async def of_person(session: AsyncSession, person_id: int) -> list[Relayed]:
    ids = await session.scalars(select(RelayMessage.id).where(RelayMessage.person_id == person_id))
    found = [await get(session, i) for i in ids]
    return [r for r in found if r is not None]


async def forget(session: AsyncSession, relay_id: int) -> None:
    """Drop a relayed message's mapping and its copies'."""
    await session.execute(delete(RelayCopy).where(RelayCopy.relay_id == relay_id))
    await session.execute(delete(RelayMessage).where(RelayMessage.id == relay_id))


RELAY_KIND = "relay"  # the kind of push that carries relay orders


async def relay_pushes(
    session: AsyncSession,
    *,
    subject_id: int | None = None,
    push_ids: Collection[int] | None = None,
    settled_only: bool = False,
) -> list[tuple[int, dict[str, Any]]]:
    """Relay pushes (id, payload): about this person, or among these ids; with
    `settled_only`, only those none of whose deliveries is still to be sent."""
    query = select(Push.id, Push.payload).where(Push.kind == RELAY_KIND)
    if subject_id is not None:
        query = query.where(Push.subject_id == subject_id)
    if push_ids is not None:
        query = query.where(Push.id.in_(list(push_ids)))
    if settled_only:
        query = query.where(
            ~exists().where(Delivery.push_id == Push.id, Delivery.status.in_(UNFINISHED))
        )
    return [(int(i), dict(p)) for i, p in (await session.execute(query)).all()]


async def rewrite_push(
    session: AsyncSession, push_id: int, payload: dict[str, Any], title: str | None = None
) -> None:
    values: dict[str, Any] = {"payload": payload}
    if title is not None:
        values["title"] = title
    await session.execute(update(Push).where(Push.id == push_id).values(**values))
