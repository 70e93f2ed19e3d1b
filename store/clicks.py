"""Links in pushes behind the bridge's redirect, and how often each was followed.

A token belongs to one link of one push (digest or broadcast), made once when the push is
queued, so every recipient gets the same one: a click says which push, item and audience,
never who. Clicks are added to their link's row for the day by UPSERT (a count, nothing else).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import Delivery, LinkClick, LinkToken, Push, utcnow
from ccin_bridge.store.upsert import insert_new

TOKEN_BYTES = 12  # 96 random bits, 16 URL-safe characters: not to be guessed or walked
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16}")
MAX_ITEM = 200


def well_formed(token: str) -> bool:
    """Whether `token` could be one of ours (anything else is not looked up at all)."""
    return _TOKEN.fullmatch(token) is not None


MAX_URL = 2000  # longer addresses stay as written: browsers and proxies may refuse them


def followable(url: str) -> bool:
    """Only web links are put behind the redirect: it never sends anyone to another scheme."""
    return (
        url.lower().startswith(("https://", "http://"))
        and len(url) <= MAX_URL
        and not any(c.isspace() for c in url)
    )


@dataclass(frozen=True)
class Link:
    id: int
    url: str


@dataclass(frozen=True)
class LinkClicks:
    push_id: int
    push_title: str
    item: str
    audience: str | None
    url: str
    clicks: int


async def add_link(
    session: AsyncSession, *, push_id: int, url: str, item: str, audience: str | None
) -> str:
    """A new token for this push's link to `url`; raises ValueError for a non-web URL."""
    if not followable(url):
        raise ValueError("only http(s) links are put behind the redirect")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        LinkToken(
            token=token,
            push_id=push_id,
            url=url,
            item=item[:MAX_ITEM],
            audience=audience,
            created_at=utcnow(),
        )
    )
    return token


async def target(session: AsyncSession, token: str) -> Link | None:
    """Where a token leads, or None for one the bridge never made (or whose address is no
    longer a web address: erasure may have redacted a name in it)."""
    if not well_formed(token):
        return None
    row = (
        await session.execute(select(LinkToken.id, LinkToken.url).where(LinkToken.token == token))
    ).first()
    if row is None or not followable(str(row.url)):
        return None
    return Link(int(row.id), str(row.url))


async def count_clicks(session: AsyncSession, found: Mapping[tuple[int, date], int]) -> None:
    """Add clicks to links' counts per day ((link id, day) -> clicks): one UPSERT each, safe
    between processes. Links gone since (their push deleted) are skipped."""
    ids = {link_id for link_id, _ in found}
    known = set((await session.scalars(select(LinkToken.id).where(LinkToken.id.in_(ids)))).all())
    for (link_id, day), n in sorted(found.items()):
        if link_id not in known or n < 1:
            continue
        statement = insert_new(session, LinkClick).values(token_id=link_id, day=day, clicks=n)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[LinkClick.token_id, LinkClick.day],
                set_={"clicks": LinkClick.clicks + n},
            )
        )


async def clicks_per_push(session: AsyncSession, push_ids: Collection[int]) -> dict[int, int]:
    """Clicks on all of each push's links, ever."""
    if not push_ids:
        return {}
    rows = await session.execute(
        select(LinkToken.push_id, func.sum(LinkClick.clicks))
        .join(LinkClick, LinkClick.token_id == LinkToken.id)
        .where(LinkToken.push_id.in_(list(push_ids)))
        .group_by(LinkToken.push_id)
    )
    return {int(push_id): int(n or 0) for push_id, n in rows}


async def most_clicked(
    session: AsyncSession, limit: int = 20, *, min_recipients: int = 0
) -> list[LinkClicks]:
    """The links followed most, with their push, item and audience; only of pushes to at
    least `min_recipients` chats (fewer would say who clicked)."""
    total = func.sum(LinkClick.clicks).label("total")
    wide = (
        select(Delivery.push_id)
        .group_by(Delivery.push_id)
        .having(func.count(Delivery.id) >= min_recipients)
    )
    query = (
        select(
            LinkToken.push_id, Push.title, LinkToken.item, LinkToken.audience, LinkToken.url, total
        )
        .join(LinkClick, LinkClick.token_id == LinkToken.id)
        .join(Push, Push.id == LinkToken.push_id)
        .group_by(
            LinkToken.id,
            LinkToken.push_id,
            Push.title,
            LinkToken.item,
            LinkToken.audience,
            LinkToken.url,
        )
        .order_by(total.desc(), LinkToken.id)
        .limit(limit)
    )
    if min_recipients > 0:
        query = query.where(LinkToken.push_id.in_(wide))
    rows = await session.execute(query)
    return [
        LinkClicks(int(p), str(title), str(item), audience, str(url), int(n or 0))
        for p, title, item, audience, url, n in rows
    ]
