"""Clicks end to end: a digest's link is rewritten to the bridge's redirect, followed over
HTTP on the service's listener, counted in memory without anything about who followed it and
written when the listener stops (or every FLUSH_SECONDS), and shown on the console's
Engagement page and in its CSV; a forged token is a 404."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select, text

from ccin_bridge import click_redirect
from ccin_bridge.app import App
from ccin_bridge.background import Background
from ccin_bridge.handlers import click_links, digest, reply_codec
from ccin_bridge.handlers.config import Secrets, Settings
from ccin_bridge.handlers.replies import BulletList
from ccin_bridge.health import Listener, start_listener
from ccin_bridge.store import clicks, news, people, subscriptions
from ccin_bridge.store.models import LinkClick, LinkToken, Push
from tests.bridge.console_support import Site, browser, signed_in

PUBLIC = "https://bridge.example.org"
STORY = "https://news.example.org/repair-cafe"
PERSON = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
UNFURL = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The repository's config with the listener's public address set."""
    http = settings.http.model_copy(update={"public_url": PUBLIC})
    return settings.model_copy(update={"http": http})


Start = Callable[[], Awaitable[tuple[Listener, str]]]


@pytest.fixture
async def start(site: Site, tmp_path: Path) -> AsyncIterator[Start]:
    """Starts the service's own listener (/healthz, /calendar.ics, /r/...), as `run` does;
    stopping one writes the clicks it holds."""
    app = App(site.bridge.settings, Secrets.from_env({}), site.db, site.bridge, tmp_path)
    running: list[Listener] = []

    async def started() -> tuple[Listener, str]:
        listener = await start_listener(app, Background(app, {}), [], "127.0.0.1", 0)
        running.append(listener)
        return listener, f"http://127.0.0.1:{listener.port}"

    try:
        yield started
    finally:
        for listener in running:
            await listener.stop()


@pytest.fixture
async def listener_url(start: Start) -> str:
    return (await start())[1]


async def _digest_with_a_story(site: Site) -> tuple[int, str]:
    """The December digest for officers, with one news item: its push and the item's link."""
    settings = site.bridge.settings
    async with site.db.session() as session:
        # Enough readers for the digest's clicks to be counted.
        for n in range(click_links.MIN_RECIPIENTS):
            reader = await people.touch_identity(
                session,
                platform="telegram",
                external_id=str(3001 + n),
                display_name=f"Reader {n} Example",
                username=None,
            )
            await subscriptions.set_wanted(session, reader.id, "digest:officers", True)
        item = await news.submit(
            session, person_id=reader.id, title="Repair café opens", body="Mend.", url=STORY
        )
        await news.decide(session, item.id, status=news.APPROVED, by=reader.id)
    async with site.db.session() as session:
        now = site.clock()
        sent = await digest.send(
            session, settings, "officers", now=now, edition=digest.next_edition(settings, now)
        )
    assert sent.push_id is not None
    async with site.db.read() as session:
        payload = await session.scalar(select(Push.payload).where(Push.id == sent.push_id))
    assert payload is not None
    reply = reply_codec.decode(payload)
    items = [i for b in reply.blocks if isinstance(b, BulletList) for i in b.items]
    story = next(i for i in items if i[0].text == "Repair café opens")
    more = next(s for s in story if s.link)
    assert more.text == "Read more"  # the words the reader sees are the same
    assert more.link is not None and more.link.startswith(f"{PUBLIC}/r/")
    assert STORY not in str(payload)  # the address is kept behind the token only
    return sent.push_id, more.link.removeprefix(PUBLIC)


async def _counts(site: Site) -> list[int]:
    async with site.db.read() as session:
        return list((await session.execute(select(LinkClick.clicks))).scalars().all())


async def test_a_digest_link_is_followed_counted_and_charted(site: Site, start: Start) -> None:
    push_id, path = await _digest_with_a_story(site)
    listener, listener_url = await start()
    async with browser() as http:
        for agent in (PERSON, PERSON, UNFURL):
            async with http.get(
                listener_url + path, headers={"User-Agent": agent}, allow_redirects=False
            ) as followed:
                assert followed.status == 302
                assert followed.headers["Location"] == STORY
                assert followed.headers["Cache-Control"] == "no-store"
        async with http.head(listener_url + path, allow_redirects=False) as looked:
            assert looked.status == 302  # a HEAD is sent on, not counted
        # Sent on at once; counted in memory, written when the listener stops.
        assert await _counts(site) == []
        await listener.stop()
        # Only the day's count is kept: two people's clicks, not the preview's.
        assert await _counts(site) == [2]
        listener, listener_url = await start()

        async def click() -> int:
            async with http.get(listener_url + path, allow_redirects=False) as followed:
                return followed.status

        # Many at once: none lost in memory, written in one unit of work.
        assert await asyncio.gather(*(click() for _ in range(20))) == [302] * 20
        await listener.stop()
        assert await _counts(site) == [22]

        await signed_in(http, site)
        async with http.get(site.url + "engagement") as page:
            assert page.status == 200
            html = await page.text()
        assert "Deliveries and clicks per digest and broadcast" in html
        assert 'role="img"' in html and "<title id=" in html
        async with http.get(site.url + "engagement/pushes.csv") as download:
            assert download.status == 200
            assert download.content_type == "text/csv"
            table = list(csv.reader(io.StringIO((await download.read()).decode("utf-8-sig"))))
        assert table[0] == ["Digest or broadcast", "Delivered", "Recipients", "Clicks"]
        row = next(r for r in table if r[0].startswith(f"#{push_id} Digest: "))
        assert row[2:] == [str(click_links.MIN_RECIPIENTS), "22"]
        async with http.get(site.url + "engagement/links.csv") as download:
            links = list(csv.reader(io.StringIO((await download.read()).decode("utf-8-sig"))))
        assert [f"Repair café opens (#{push_id}, officers)", "22"] in links


async def test_a_forged_token_is_a_friendly_404(site: Site, listener_url: str) -> None:
    await _digest_with_a_story(site)
    async with browser() as http:
        for forged in (
            "AAAAAAAAAAAAAAAA",
            "short",
            "..%2F..%2Fmetrics",
            "https:%2F%2Fevil.example",
        ):
            async with http.get(f"{listener_url}/r/{forged}", allow_redirects=False) as answer:
                assert answer.status == 404, forged
                assert "Location" not in answer.headers
                assert "This link is not known" in await answer.text()
        async with site.db.read() as session:
            assert (await session.execute(select(LinkClick))).all() == []


async def test_the_engagement_page_needs_a_signed_in_admin(site: Site) -> None:
    async with browser() as http:
        for path in ("engagement", "engagement/pushes.csv"):
            async with http.get(site.url + path, allow_redirects=False) as answer:
                assert answer.status == 303 and answer.headers["Location"] == "sign-in"
        await signed_in(http, site)
        async with http.get(site.url + "engagement/nothing.csv") as answer:
            assert answer.status == 404


async def test_the_location_is_sent_encoded(site: Site, listener_url: str) -> None:
    """A stored address with non-ASCII characters goes out as a valid header value."""
    push_id, _ = await _digest_with_a_story(site)
    async with site.db.session() as session:
        token = await clicks.add_link(
            session, push_id=push_id, url="https://例え.jp/パス?q=é", item="x", audience=None
        )
    async with (
        browser() as http,
        http.get(f"{listener_url}/r/{token}", allow_redirects=False) as followed,
    ):
        assert followed.status == 302
        assert followed.headers["Location"] == "https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9?q=%C3%A9"


async def test_held_clicks_are_bounded_and_written_in_one_go(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(click_redirect, "MAX_PENDING", 2)
    push_id, _ = await _digest_with_a_story(site)
    async with site.db.read() as session:
        link_id = await session.scalar(select(LinkToken.id).where(LinkToken.push_id == push_id))
    assert link_id is not None
    app = App(site.bridge.settings, Secrets.from_env({}), site.db, site.bridge, tmp_path)
    counts = click_redirect.ClickCounts(app)
    day = site.clock().date()
    assert counts.add(link_id, day) and counts.add(link_id, day)
    assert counts.add(link_id, day.replace(day=1) if day.day != 1 else day.replace(day=2))
    assert not counts.add(link_id + 1000, day)  # a third key waits for the next write
    assert counts.add(link_id, day)  # a key already held still counts
    await counts.flush()
    assert counts.pending == {}
    assert sorted(await _counts(site)) == [1, 3]


async def test_held_clicks_are_written_while_the_listener_runs(
    site: Site, start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(click_redirect, "FLUSH_SECONDS", 0.05)
    _, path = await _digest_with_a_story(site)
    _, listener_url = await start()
    async with (
        browser() as http,
        http.get(listener_url + path, allow_redirects=False) as followed,
    ):
        assert followed.status == 302
    for _ in range(400):  # written by the listener's own round, not by a stop
        if await _counts(site):
            break
        await asyncio.sleep(0.05)
    assert await _counts(site) == [1]


async def test_a_stalled_database_does_not_hold_the_stop_up(
    site: Site, start: Start, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(click_redirect, "LAST_WRITE_SECONDS", 0.3)
    _, path = await _digest_with_a_story(site)
    listener, listener_url = await start()
    async with (
        browser() as http,
        http.get(listener_url + path, allow_redirects=False) as followed,
    ):
        assert followed.status == 302
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:  # another writer that does not finish
        async with site.db.session() as session:
            if not site.db.is_sqlite:  # (SQLite's writers take turns anyway)
                await session.execute(text("LOCK TABLE link_clicks IN EXCLUSIVE MODE"))
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    try:
        async with asyncio.timeout(30):  # without the stop's own bound: never returns
            await listener.stop()
    finally:
        release.set()
        await holder
    assert "clicks held at the stop were not counted" in caplog.text
    assert await _counts(site) == []
