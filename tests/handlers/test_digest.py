"""The monthly digest through the Bridge and the real delivery lanes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.replies import Heading
from ccin_bridge.store import news
from ccin_bridge.store.db import Database
from ccin_bridge.store.importers import import_file
from ccin_bridge.store.models import AuditEntry, CaseStudy, NewsItem, Project, Push, Supplier
from tests.conftest import Clock
from tests.handlers.push_support import (
    ADA,
    ALEX,
    SAM,
    actions,
    deliver,
    push_bridge,
    say,
    says,
)


async def _approved(bridge: Bridge, title: str, url: str | None = None) -> int:
    async with bridge.db.session() as session:
        item = await news.submit(
            session, person_id=1, title=title, body=f"About {title}.", url=url, audience=None
        )
        await news.decide(session, item.id, status=news.APPROVED, by=1)
    return item.id


async def _subscribe(bridge: Bridge) -> None:
    await say(bridge, ADA, "/start")
    await say(bridge, ALEX, "/subscribe digest:officers")
    await say(bridge, SAM, "/subscribe digest:leaders")


async def test_preview_is_exactly_the_digest_with_its_sections(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await _subscribe(bridge)
    await _approved(bridge, "Testbury's repair café", "https://example.org/repair-cafe")
    note, body = await say(bridge, ADA, "/digest preview officers")
    assert "Preview: the December 2026 digest for Officers" in note.plain_text
    assert "to 1 subscribed chat." in note.plain_text and "1 news item." in note.plain_text
    assert actions([note]) == ["digest send officers"]
    headings = [b.text for b in body.blocks if isinstance(b, Heading)]
    assert headings[:3] == [
        "December 2026 digest for Officers",
        "News",
        "Coming up in the next 6 weeks",
    ]
    assert "Dynamic Purchasing System" in headings
    text = body.plain_text
    assert "Testbury's repair café" in text and "Read more" in text
    assert "Tuesday 1 December 2026 — Officer Network monthly meeting" in text
    # six weeks from the edition's day (1 December), not from today (22 November)
    assert "Tuesday 5 January 2027" in text
    assert "Tuesday 2 February 2027" not in text  # beyond six weeks (12 January)
    assert "runs from 1 Apr 2020 to 28 Oct 2028" in text
    assert "unsubscribe digest:officers" in actions([body])
    sent = await say(bridge, ADA, "/digest send officers")
    queued = await deliver(bridge.db)
    assert next(r.plain_text for r in queued.to("alex")) == text  # what was previewed went out
    assert "Queued the December 2026 digest" in says(sent)


async def test_a_january_preview_in_december_lists_januarys_meetings(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await _subscribe(bridge)
    clock.now = datetime(2026, 12, 1, 12, tzinfo=UTC)  # the December edition went at 09:00
    note, body = await say(bridge, ADA, "/digest preview officers")
    assert "Preview: the January 2027 digest for Officers" in note.plain_text
    text = body.plain_text
    assert "Tuesday 1 December 2026" not in text
    assert "Tuesday 5 January 2027 — Officer Network monthly meeting" in text
    assert "Tuesday 2 February 2027 — Officer Network monthly meeting" in text  # by 12 February


async def test_digest_is_for_admins_only(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    assert "for network admins only" in says(await say(bridge, ALEX, "/digest preview"))
    choose = await say(bridge, ADA, "/digest preview")
    assert "digest preview officers" in actions(choose)
    assert "no audience called “pets”" in says(await say(bridge, ADA, "/digest send pets"))


async def test_early_send_goes_once_and_marks_news_digested(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await _subscribe(bridge)
    first = await _approved(bridge, "Sampleford wins an award")
    reply = says(await say(bridge, ADA, "/digest send officers"))
    assert "Queued the December 2026 digest for Officers" in reply
    assert "scheduled one on 1 December will be skipped" in reply
    assert "was sent already" in says(await say(bridge, ADA, "/digest send officers"))
    sent = await deliver(bridge.db)
    [officers] = sent.to("alex")
    assert "Sampleford wins an award" in officers.plain_text
    assert sent.to("sam") == []  # Sam takes the leaders' digest only
    reports = [r for r in sent.to("ada") if r.plain_text.startswith("Delivery report")]
    assert len(reports) == 1 and "1 sent" in reports[0].plain_text
    async with bridge.db.session() as session:
        item = await session.get(NewsItem, first)
        keys = list(await session.scalars(select(Push.key).where(Push.kind == "digest")))
        audited = list(
            await session.scalars(
                select(AuditEntry.detail).where(AuditEntry.action == "digest.send_early")
            )
        )
    assert item is not None and item.digested_at is not None
    assert keys == ["digest:officers:2026-12"]
    assert [(d["audience"], d["edition"], d["recipients"]) for d in audited] == [
        ("officers", "2026-12", 1)
    ]  # once: the refused second send is not audited
    # The leaders' digest still carries news meant for every audience...
    await say(bridge, ADA, "/digest send leaders")
    assert "Sampleford wins an award" in (await deliver(bridge.db)).to("sam")[0].plain_text
    # ...and the officers' next edition carries only what was approved since.
    await _approved(bridge, "Exampleton's new co-op hub")
    clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    note, body = await say(bridge, ADA, "/digest preview officers")
    assert "January 2027 digest" in note.plain_text
    assert "Exampleton's new co-op hub" in body.plain_text
    assert "Sampleford wins an award" not in body.plain_text


async def test_send_all_sends_every_audience_but_send_alone_only_asks(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    # Nothing after `send` (or only what cleans away: a zero-width space) is never "all".
    for line in ("/digest send", "/digest send \u200b", "/digest send \ufeff\u2060"):
        (choice,) = await say(bridge, ADA, line)
        assert actions([choice]) == [f"digest send {a.slug}" for a in settings.audiences] + [
            "digest send all"
        ]
    async with bridge.db.session() as session:
        assert list(await session.scalars(select(Push.key).where(Push.kind == "digest"))) == []
    replies = await say(bridge, ADA, "/digest send all")
    assert len(replies) == len(settings.audiences)
    async with bridge.db.session() as session:
        keys = sorted(
            str(k) for k in await session.scalars(select(Push.key).where(Push.kind == "digest"))
        )
    assert keys == sorted(f"digest:{a.slug}:2026-12" for a in settings.audiences)


async def test_the_dps_end_is_counted_down_in_its_last_year(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    clock.now = datetime(2028, 9, 28, 12, 0, tzinfo=UTC)
    _, body = await say(bridge, ADA, "/digest preview members")
    assert "The DPS ends on Saturday 28 October 2028, in 30 days." in body.plain_text
    clock.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    _, body = await say(bridge, ADA, "/digest preview members")
    assert "The DPS ends on" not in body.plain_text


async def test_only_imported_records_are_new_and_dps_additions_are_named(
    settings: Settings, sqlite_db: Database, clock: Clock, tmp_path: Path
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    suppliers = tmp_path / "suppliers.csv"
    suppliers.write_text("name,services\nExampleton Co-operative Consulting,Advice\n")
    studies = tmp_path / "case_studies.csv"
    studies.write_text(
        "title,url,member\nSampleford repair café,https://example.org/r,Sampleford\n"
    )
    async with sqlite_db.session() as session:
        await import_file(session, "suppliers", suppliers)
        await import_file(session, "case-studies", studies)
        # Seeded and imported alike, as if added yesterday: inside this edition's window.
        for model in (Supplier, CaseStudy, Project):
            await session.execute(update(model).values(created_at=clock.now - timedelta(days=1)))
    _, body = await say(bridge, ADA, "/digest preview members")
    text = body.plain_text
    headings = [b.text for b in body.blocks if isinstance(b, Heading)]
    assert "New on the supplier list: Exampleton Co-operative Consulting." in text
    assert "Sampleford repair café" in text and "New case studies" in headings
    # The reference data the bridge was installed with is not news.
    assert "Anthony Collins Solicitors" not in text
    assert "New funded projects" not in headings
