"""/news through the Bridge: the guided submission, admin decisions, and who hears what."""

from __future__ import annotations

from sqlalchemy import func, select

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import AuditEntry, NewsItem
from tests.conftest import Clock
from tests.handlers.push_support import (
    ADA,
    ALEX,
    SAM,
    actions,
    deliver,
    press,
    push_bridge,
    say,
    says,
)

TITLE = "Sampleford opens a community energy co-op"
BODY = "Residents of Sampleford now own the solar panels on three council buildings."
LINK = "https://example.org/sampleford-energy"


async def _submit(bridge: Bridge) -> None:
    await say(bridge, ALEX, "/news")
    await say(bridge, ALEX, TITLE)
    await say(bridge, ALEX, BODY)
    await say(bridge, ALEX, LINK)
    assert "Thank you" in says(await press(bridge, ALEX, "news --submit"))


async def _items(bridge: Bridge) -> list[NewsItem]:
    async with bridge.db.session() as session:
        return list(await session.scalars(select(NewsItem).order_by(NewsItem.id)))


async def _audit(bridge: Bridge) -> list[str]:
    async with bridge.db.session() as session:
        return list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


async def test_the_flow_asks_again_after_bad_input_then_previews(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    start = says(await say(bridge, ALEX, "/news"))
    assert "What is the title?" in start and "/cancel" in start
    long_title = says(await say(bridge, ALEX, "x" * 130))
    assert "130 characters; please keep it to 120" in long_title
    assert "What is the title?" in long_title  # the same step, asked again
    assert "Now the text" in says(await say(bridge, ALEX, TITLE))
    assert "A link" in says(await say(bridge, ALEX, BODY))
    bad_link = says(await say(bridge, ALEX, "ftp://example.org/file"))
    assert "doesn't look like a web link" in bad_link and "A link" in bad_link
    preview = await say(bridge, ALEX, LINK)
    assert "Preview of your news" in says(preview) and TITLE in says(preview)
    assert actions(preview) == ["news --submit", "cancel"]
    assert await _items(bridge) == []  # nothing is saved before Submit


async def test_cancel_at_any_step_saves_nothing(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await say(bridge, ALEX, "/news")
    await say(bridge, ALEX, TITLE)
    assert "Cancelled" in says(await say(bridge, ALEX, "/cancel"))
    assert "no news waiting" in says(await press(bridge, ALEX, "news --submit"))
    # After cancelling, plain text is no longer taken as a news step.
    assert "I answer commands" in says(await say(bridge, ALEX, BODY))
    assert await _items(bridge) == []


async def test_skip_means_no_link(settings: Settings, sqlite_db: Database, clock: Clock) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await say(bridge, ALEX, f"/news {TITLE}")  # the title given straight away
    await say(bridge, ALEX, BODY)
    assert "No link" in says(await say(bridge, ALEX, "skip"))
    await say(bridge, ALEX, "submit")
    [item] = await _items(bridge)
    assert (item.title, item.url, item.status) == (TITLE, None, "submitted")


async def test_admins_approve_by_button_and_the_submitter_is_told(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await say(bridge, ADA, "/start")  # the bot can only write to admins it has met
    await _submit(bridge)
    sent = await deliver(bridge.db)
    [card] = sent.to("ada")
    assert "for approval" in card.plain_text and TITLE in card.plain_text
    assert "Sent by Alex Example" in card.plain_text
    [item] = await _items(bridge)
    assert [b.action for row in card.buttons for b in row] == [
        f"news approve {item.id}",
        f"news edit {item.id}",
        f"news reject {item.id}",
    ]
    assert "is for network admins only" in says(await press(bridge, SAM, f"news approve {item.id}"))
    assert "goes into the next digest" in says(await press(bridge, ADA, f"news approve {item.id}"))
    assert "already approved" in says(await press(bridge, ADA, f"news reject {item.id}"))
    told = await deliver(bridge.db, sent)
    [outcome] = told.to("alex")
    assert "was approved" in outcome.plain_text
    assert await _audit(bridge) == ["news.submit", "news.approve"]


async def test_reject_asks_for_a_reason_and_passes_it_on(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await _submit(bridge)
    [item] = await _items(bridge)
    assert "Why is" in says(await press(bridge, ADA, f"news reject {item.id}"))
    assert "Alex Example is told" in says(await say(bridge, ADA, "It was in last month's digest"))
    [outcome] = (await deliver(bridge.db)).to("alex")
    assert "not accepted" in outcome.plain_text
    assert "It was in last month's digest" in outcome.plain_text
    async with bridge.db.session() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "news.reject"))
    assert entry is not None and entry.detail["reason"] == "It was in last month's digest"


async def test_admins_edit_step_by_step_keeping_what_is_right(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await _submit(bridge)
    [item] = await _items(bridge)
    first = says(await press(bridge, ADA, f"news edit {item.id}"))
    assert f"It is now: “{TITLE}”" in first and "keep" in first
    await say(bridge, ADA, "keep")
    await say(bridge, ADA, "Sampleford residents now own solar panels on three buildings.")
    card = await say(bridge, ADA, "keep")
    assert "Saved your changes" in says(card) and f"news approve {item.id}" in actions(card)
    [edited] = await _items(bridge)
    assert edited.title == TITLE and edited.url == LINK
    assert edited.body.startswith("Sampleford residents now own")
    assert "news.edit" in await _audit(bridge)


async def test_review_lists_what_is_waiting(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    assert "No news is waiting" in says(await say(bridge, ADA, "/news review"))
    await _submit(bridge)
    replies = await say(bridge, ADA, "/news review")
    assert "1 news item waiting" in says(replies) and TITLE in says(replies)
    async with bridge.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(NewsItem)) == 1


async def test_a_long_text_gets_the_flows_own_answer_and_lines_are_joined(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(settings, sqlite_db, clock)
    await say(bridge, ALEX, "/news")
    await say(bridge, ALEX, TITLE)
    too_long = says(await say(bridge, ALEX, "word " * 150))  # 750 characters
    assert "please keep it to 480 or fewer and put the rest behind the link" in too_long
    assert "search" not in too_long
    assert "A link" in says(await say(bridge, ALEX, "Residents now own\nthe solar panels."))
    preview = says(await say(bridge, ALEX, LINK))
    assert "Residents now own the solar panels." in preview
