"""Clicks end to end: a digest's link is rewritten to the bridge's redirect, followed over
HTTP on the service's listener, counted without anything about who followed it, and shown
on the console's Engagement page and in its CSV; a forged token is a 404."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ccin_bridge.app import App
from ccin_bridge.background import Background
from ccin_bridge.handlers import digest, reply_codec
from ccin_bridge.handlers.config import Secrets, Settings
from ccin_bridge.handlers.replies import BulletList
from ccin_bridge.health import start_listener
from ccin_bridge.store import news, people, subscriptions
from ccin_bridge.store.models import LinkClick, Push
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


@pytest.fixture
async def listener_url(site: Site, tmp_path: Path) -> AsyncIterator[str]:
    """The service's own listener (/healthz, /calendar.ics, /r/...), as `run` starts it."""
    app = App(site.bridge.settings, Secrets.from_env({}), site.db, site.bridge, tmp_path)
    listener = await start_listener(app, Background(app, {}), [], "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{listener.port}"
    finally:
        await listener.stop()


async def _digest_with_a_story(site: Site) -> tuple[int, str]:
    """The December digest for officers, with one news item: its push and the item's link."""
    settings = site.bridge.settings
    async with site.db.session() as session:
        reader = await people.touch_identity(
            session,
            platform="telegram",
            external_id="3001",
            display_name="Alex Example",
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


async def test_a_digest_link_is_followed_counted_and_charted(site: Site, listener_url: str) -> None:
    push_id, path = await _digest_with_a_story(site)
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
        # Only the day's count is kept: two people's clicks, not the preview's.
        async with site.db.read() as session:
            counts = (await session.execute(select(LinkClick.clicks))).scalars().all()
        assert counts == [2]

        async def click() -> int:
            async with http.get(listener_url + path, allow_redirects=False) as followed:
                return followed.status

        # Many at once: one UPSERT each, none lost between them.
        assert await asyncio.gather(*(click() for _ in range(20))) == [302] * 20
        async with site.db.read() as session:
            counts = (await session.execute(select(LinkClick.clicks))).scalars().all()
        assert counts == [22]

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
        assert row[2:] == ["1", "22"]
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
