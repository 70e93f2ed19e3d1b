"""Admins' command arguments read as meant: /news approve without a number, /remove with a
quoted name, and /approve's answer in one sentence."""

from __future__ import annotations

from sqlalchemy import func, select

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.replies import Paragraph
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import Conversation, Push
from tests.conftest import Clock
from tests.handlers.groups_support import (
    ADMIN,
    ALEX_TG,
    join_officers,
    make_bridge,
    say,
    texts,
)


async def test_news_approve_without_a_number_explains_rather_than_starting_a_draft(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    for word in ("approve", "reject", "edit"):
        answer = texts(await say(bridge, ADMIN, f"/news {word}"))
        assert f"Which news item? Give its number, e.g. /news {word} 12" in answer
        assert "title" not in answer.casefold()
    async with bridge.db.read() as session:
        drafts = await session.scalar(select(func.count()).select_from(Conversation))
    assert drafts == 0  # no flow was started
    # `#12` works as the number, as /pending and /approve take it.
    assert "There is no news item #12" in texts(await say(bridge, ADMIN, "/news approve #12"))


async def test_remove_takes_a_quoted_name_with_a_space_and_a_reason(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    await say(bridge, ADMIN, "/help")
    await join_officers(bridge, ALEX_TG)
    await say(bridge, ADMIN, "/approve 1")
    done = texts(await say(bridge, ADMIN, '/remove officers "Alex Example" left the council'))
    assert "Removed #2 from Officer Network" in done
    async with bridge.db.read() as session:
        notices = [str(p) for p in await session.scalars(select(Push.payload))]
    assert any("left the council" in n for n in notices)  # the reason, not the name's half
    # Typographic quotes too: the whole name is looked up (and is no longer a member's).
    again = texts(await say(bridge, ADMIN, "/remove officers “alex example”"))
    assert "Nobody matches “alex example”" in again
    unclosed = texts(await say(bridge, ADMIN, '/remove officers "Alex Example left'))
    assert "The name has no closing quote" in unclosed
    assert "Traceback" not in unclosed


async def test_approve_answers_in_one_sentence(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, sqlite_db, clock)
    await say(bridge, ADMIN, "/help")
    await join_officers(bridge, ALEX_TG)
    [reply] = await say(bridge, ADMIN, "/approve 1")
    paragraphs = [b for b in reply.blocks if isinstance(b, Paragraph)]
    assert len(paragraphs) == 1
    assert reply.plain_text.strip() == (
        "Approved #1: Alex Example is now in Officer Network; 1 chat invitation queued."
    )


async def test_a_members_news_title_may_start_with_an_admins_word(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    """Only admins decide on news: for anyone else "Edit", "Approve" or "Reject" without a
    number begins a title, and the draft starts with it."""
    bridge = await make_bridge(settings, sqlite_db, clock)
    await say(bridge, ADMIN, "/help")
    for title in (
        "Edit our co-op launched a bakery",
        "Approve the new housing plan",
        "Reject fossil fuels",
        "approve",
    ):
        answer = texts(await say(bridge, ALEX_TG, f"/news {title}"))
        assert "admins only" not in answer and "Which news item" not in answer
        assert "Now the text" in answer
        async with bridge.db.read() as session:
            [draft] = await session.scalars(select(Conversation))
        assert draft.data["title"] == title
        await say(bridge, ALEX_TG, "/cancel")
    # With a number it is a decision, and still an admin's alone.
    assert "for network admins only" in texts(await say(bridge, ALEX_TG, "/news approve 12"))
