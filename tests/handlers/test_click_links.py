"""Links in pushes through the bridge's redirect: rewritten once per push on the neutral
reply's link spans, the words readers see unchanged, and only with `http.public_url`."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ccin_bridge.handlers import click_links, reply_codec
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.identity import UserRef
from ccin_bridge.handlers.replies import (
    BulletList,
    Paragraph,
    Reply,
    ReplyBuilder,
    Span,
    bold,
    link,
)
from ccin_bridge.store import clicks
from ccin_bridge.store.db import Database
from ccin_bridge.store.models import LinkToken, Push
from tests.conftest import Clock
from tests.handlers.push_support import ADA, ALEX, SAM, deliver, push_bridge, say

PUBLIC = "https://bridge.example.org"
# Enough readers for a push's clicks to be counted (click_links.MIN_RECIPIENTS chats).
READERS = [
    UserRef("terminal", f"reader{n}", display_name=f"Reader {n} Example")
    for n in range(click_links.MIN_RECIPIENTS - 2)
]


def _public(settings: Settings, url: str | None = PUBLIC) -> Settings:
    return settings.model_copy(
        update={"http": settings.http.model_copy(update={"public_url": url})}
    )


def _links(reply: Reply) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for block in reply.blocks:
        lines = [block.spans] if isinstance(block, Paragraph) else []
        lines += list(block.items) if isinstance(block, BulletList) else []
        found += [(s.text, s.link) for line in lines for s in line if s.link]
    return found


def test_the_words_stay_and_only_web_links_are_rewritten() -> None:
    reply = (
        ReplyBuilder()
        .heading("News")
        .bullets(
            [
                (
                    bold("Repair café"),
                    Span(" — mend things. "),
                    link("Read more", "https://a.example/r"),
                ),
                (Span("Write to "), link("the team", "mailto:team@example.org")),
            ]
        )
        .para("The plan is at https://b.example/plan. Questions: https://b.example/faq?x=1")
        .build()
    )
    found = click_links.links_in(reply)
    assert found == [
        ("https://a.example/r", "Repair café"),  # "Read more" is named by its line's title
        ("https://b.example/plan", "https://b.example/plan"),
        ("https://b.example/faq?x=1", "https://b.example/faq?x=1"),
    ]
    tokens = {key: f"T{n}" for n, key in enumerate(found)}
    tracked = click_links.tracked(reply, tokens, PUBLIC)
    assert tracked.plain_text == reply.plain_text  # what the reader sees is unchanged
    assert _links(tracked) == [
        ("Read more", f"{PUBLIC}/r/T0"),
        ("the team", "mailto:team@example.org"),
        ("https://b.example/plan", f"{PUBLIC}/r/T1"),  # the sentence's full stop stays text
        ("https://b.example/faq?x=1", f"{PUBLIC}/r/T2"),
    ]


async def test_a_broadcast_s_links_are_tracked_once_for_all_its_readers(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(_public(settings), sqlite_db, clock)
    await say(bridge, ADA, "/start")
    for person in (ALEX, SAM, *READERS):
        await say(bridge, person, "/subscribe digest:officers")
    text = "The plan is at https://example.org/plan and https://example.org/plan again."
    await say(bridge, ADA, f"/broadcast officers --send {text}")
    async with sqlite_db.read() as session:
        tokens = (await session.execute(select(LinkToken.token, LinkToken.url))).all()
    assert len(tokens) == 1 and tokens[0].url == "https://example.org/plan"
    recorder = await deliver(sqlite_db)
    got = [r for chat in ("alex", "sam") for r in recorder.to(chat)]
    assert len(got) == 2 and got[0] == got[1]  # the same message: nothing tells them apart
    assert all(recorder.to(r.user_id) == [got[0]] for r in READERS)
    assert text in got[0].plain_text
    assert {url for _, url in _links(got[0])} == {f"{PUBLIC}/r/{tokens[0].token}"}


async def test_without_a_public_address_links_stay_as_written(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    bridge = await push_bridge(_public(settings, None), sqlite_db, clock)
    await say(bridge, ADA, "/start")
    await say(bridge, ALEX, "/subscribe digest:officers")
    await say(bridge, ADA, "/broadcast officers --send See https://example.org/plan")
    async with sqlite_db.read() as session:
        assert await session.scalar(select(func.count()).select_from(LinkToken)) == 0
        payload = await session.scalar(select(Push.payload).where(Push.kind == "broadcast"))
    assert payload is not None
    assert "/r/" not in str(reply_codec.decode(payload))


async def test_a_push_to_few_chats_keeps_its_links_as_written(
    settings: Settings, sqlite_db: Database, clock: Clock
) -> None:
    """One token per push: a click on a push to a few people would say which of them."""
    bridge = await push_bridge(_public(settings), sqlite_db, clock)
    await say(bridge, ADA, "/start")
    for person in (ALEX, SAM, *READERS[1:]):  # one chat short of the threshold
        await say(bridge, person, "/subscribe digest:officers")
    await say(bridge, ADA, "/broadcast officers --send See https://example.org/plan")
    async with sqlite_db.read() as session:
        assert await session.scalar(select(func.count()).select_from(LinkToken)) == 0
    recorder = await deliver(sqlite_db)
    got = recorder.to("alex")[0]
    assert "https://example.org/plan" in got.plain_text
    assert "/r/" not in str(got)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        (
            "See https://en.wikipedia.org/wiki/Tree_(data_structure).",
            "https://en.wikipedia.org/wiki/Tree_(data_structure)",
        ),
        ("(see https://example.org/plan)", "https://example.org/plan"),
        ("At [https://example.org/a_[1]].", "https://example.org/a_[1]"),
        ("Read https://example.org/o'brien-report now", "https://example.org/o'brien-report"),
        ("Read 'https://example.org/plan'.", "https://example.org/plan"),
        ("詳しくは https://例え.jp/パス。", "https://例え.jp/パス"),
        ("「https://例え.jp/パス」", "https://例え.jp/パス"),
        ("Home: https://example.org/.", "https://example.org/"),
        ("Jump to https://example.org/page#top!", "https://example.org/page#top"),
    ],
)
def test_an_address_in_text_ends_where_the_address_does(text: str, address: str) -> None:
    reply = ReplyBuilder().para(text).build()
    assert click_links.links_in(reply) == [(address, address)]


def test_an_overlong_address_in_text_stays_as_written() -> None:
    long = "https://example.org/" + "a" * clicks.MAX_URL
    reply = ReplyBuilder().para(f"See {long} and https://example.org/plan.").build()
    found = click_links.links_in(reply)
    assert found == [("https://example.org/plan", "https://example.org/plan")]
    tracked = click_links.tracked(reply, {found[0]: "T0"}, PUBLIC)
    assert tracked.plain_text == reply.plain_text
    assert _links(tracked) == [("https://example.org/plan", f"{PUBLIC}/r/T0")]
