"""Who a push goes to: subscribers of a topic, admins, or one person, as outbox targets.

Each active identity of a person is a target: people chose the topic once, for every
platform they use. Identities marked inactive (they blocked the bot) are left out.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import Identity, Subscription
from ccin_bridge.store.outbox import Target


def _dm(identity: Identity) -> Target:
    # A bot's DM with a person is addressed by the person's id on Telegram, Slack and here.
    return Target(identity.platform, identity.external_id, identity.id, is_private=True)


async def person_targets(session: AsyncSession, person_id: int) -> list[Target]:
    rows = await session.scalars(
        select(Identity)
        .where(Identity.person_id == person_id, Identity.active.is_(True))
        .order_by(Identity.id)
    )
    return [_dm(i) for i in rows]


async def topic_targets(session: AsyncSession, topic: str) -> list[Target]:
    rows = await session.scalars(
        select(Identity)
        .join(Subscription, Subscription.person_id == Identity.person_id)
        .where(
            Subscription.topic == topic,
            Subscription.wanted.is_(True),
            Identity.active.is_(True),
        )
        .order_by(Identity.id)
    )
    return [_dm(i) for i in rows]


async def admin_targets(session: AsyncSession, config_admins: Iterable[str]) -> list[Target]:
    """Admin accounts, by the store's flag or by `PLATFORM:USER_ID` in config (those who have
    used the bot at least once: a bot cannot open a chat with someone it has never seen).
    A linked account of an admin is not one: rights belong to the account granted them."""
    keys = [tuple(k.split(":", 1)) for k in config_admins if ":" in k]
    conditions = [Identity.is_admin.is_(True)]
    if keys:
        conditions.append(tuple_(Identity.platform, Identity.external_id).in_(keys))
    rows = await session.scalars(
        select(Identity).where(or_(*conditions), Identity.active.is_(True)).order_by(Identity.id)
    )
    return [_dm(i) for i in rows]
