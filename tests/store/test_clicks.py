"""Link tokens and click counts on SQLite and PostgreSQL: a click is a count per link and day,
and a token leads only to the web address the bridge stored for it."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import inspect, select, update

from ccin_bridge.store import clicks, outbox
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import LinkClick, LinkToken, Push

DAY = date(2026, 12, 1)


async def _push(db: Database, kind: str = "digest") -> int:
    async with db.session() as session:
        push_id = await outbox.create_push(session, kind=kind, payload={}, targets=[])
    assert push_id is not None
    return push_id


async def test_clicks_are_counted_per_link_and_day(db: Database) -> None:
    push_id = await _push(db)
    async with db.session() as session:
        token = await clicks.add_link(
            session,
            push_id=push_id,
            url="https://news.example.org/story",
            item="A story",
            audience="officers",
        )
        other = await clicks.add_link(
            session, push_id=push_id, url="https://example.org/", item="Home", audience="officers"
        )
    assert token != other and len(token) == 16 and clicks.well_formed(token)
    async with db.read() as session:
        link = await clicks.target(session, token)
    assert link is not None and link.url == "https://news.example.org/story"
    for found in ({(link.id, DAY): 1}, {(link.id, DAY): 1, (link.id, date(2026, 12, 2)): 1}):
        async with db.session() as session:
            await clicks.count_clicks(session, found)
    async with db.read() as session:
        per_push = await clicks.clicks_per_push(session, [push_id])
        most = await clicks.most_clicked(session)
        rows = (await session.execute(select(LinkClick.day, LinkClick.clicks))).all()
    assert per_push == {push_id: 3}
    assert [(m.item, m.audience, m.clicks) for m in most] == [("A story", "officers", 3)]
    assert sorted(rows) == [(DAY, 2), (date(2026, 12, 2), 1)]


async def test_a_click_record_holds_no_one(db: Database) -> None:
    def columns(connection: object) -> set[str]:
        return {c["name"] for c in inspect(connection).get_columns("link_clicks")}

    async with db.read() as session:
        found = await (await session.connection()).run_sync(columns)
    assert found == {"token_id", "day", "clicks"}


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "mailto:ada@example.org", "//evil.example", "https://a b"]
)
async def test_only_web_addresses_go_behind_the_redirect(db: Database, url: str) -> None:
    push_id = await _push(db)
    async with db.session() as session:
        with pytest.raises(ValueError, match="http"):
            await clicks.add_link(session, push_id=push_id, url=url, item="x", audience=None)


async def test_a_token_never_made_leads_nowhere(db: Database) -> None:
    push_id = await _push(db)
    async with db.session() as session:
        await clicks.add_link(
            session, push_id=push_id, url="https://example.org/", item="Home", audience=None
        )
    async with db.read() as session:
        assert await clicks.target(session, "A" * 16) is None
        assert await clicks.target(session, "../../etc/passwd") is None
        assert await clicks.target(session, "") is None


async def test_a_push_deleted_takes_its_links_and_counts(db: Database) -> None:
    push_id = await _push(db)
    async with db.session() as session:
        token = await clicks.add_link(
            session, push_id=push_id, url="https://example.org/", item="Home", audience=None
        )
    async with db.read() as session:
        link = await clicks.target(session, token)
    assert link is not None
    async with db.session() as session:
        await clicks.count_clicks(session, {(link.id, DAY): 1})
    async with db.session() as session:
        push = await session.get(Push, push_id)
        await session.delete(push)
    async with db.read() as session:
        assert await clicks.target(session, token) is None
        assert (await session.execute(select(LinkClick))).all() == []
    # Clicks held in memory for a link deleted since are dropped, not an error.
    async with db.session() as session:
        await clicks.count_clicks(session, {(link.id, DAY): 4})
    async with db.read() as session:
        assert (await session.execute(select(LinkClick))).all() == []


async def test_a_stored_address_no_longer_a_web_address_leads_nowhere(db: Database) -> None:
    """Erasure redacts a name in a link's address, which may leave it broken."""
    push_id = await _push(db)
    async with db.session() as session:
        token = await clicks.add_link(
            session, push_id=push_id, url="https://example.org/ada", item="Ada", audience=None
        )
        await session.execute(
            update(LinkToken).where(LinkToken.token == token).values(url="https://[redacted] x")
        )
    async with db.read() as session:
        assert await clicks.target(session, token) is None


def test_an_overlong_address_is_not_put_behind_the_redirect() -> None:
    base = "https://example.org/"
    assert clicks.followable(base + "a" * (clicks.MAX_URL - len(base)))
    assert not clicks.followable(base + "a" * (clicks.MAX_URL - len(base) + 1))


async def test_counts_written_at_once_by_several_processes_add_up(db: Database) -> None:
    """Twenty units of work adding to one link's day at once lose none. On SQLite writes are
    serialised, so this can only fail on PostgreSQL (where a read-then-write would race):
    kept for it."""
    push_id = await _push(db)
    async with db.session() as session:
        token = await clicks.add_link(
            session, push_id=push_id, url="https://example.org/", item="Home", audience=None
        )
    async with db.read() as session:
        link = await clicks.target(session, token)
    assert link is not None

    async def add(n: int) -> None:
        async with db.session() as session:
            await clicks.count_clicks(session, {(link.id, DAY): n})

    await asyncio.gather(*(add(n) for n in range(1, 21)))
    async with db.read() as session:
        assert (await session.execute(select(LinkClick.clicks))).scalars().all() == [210]
