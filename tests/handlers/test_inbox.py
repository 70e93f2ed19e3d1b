"""The inbound journal with the real bridge on SQLite and PostgreSQL: nothing stored is lost or
handled twice, one chat's updates keep their order, and a busy chat holds up no other."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select

from ccin_bridge.handlers import chat_events
from ccin_bridge.handlers.commands import all_commands
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.inbox import MAX_ATTEMPTS, Inbox, Unreadable
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.handlers.requests import Request
from ccin_bridge.store import inbox as journal
from ccin_bridge.store.db import Database
from ccin_bridge.store.inbox import Arrival, InboundItem
from ccin_bridge.store.models import InboundUpdate, Push
from tests.conftest import Clock
from tests.handlers.groups_support import ADMIN, OFFICERS_TG, make_bridge, say

ALEX = UserRef("terminal", "alex", display_name="Alex Example")


def arrival(n: int, chat: str = "a", text: str = "/events") -> Arrival:
    return Arrival(key=f"u{n}", chat_key=chat, sender="alex", payload={"n": n, "text": text})


async def settled(inbox: Inbox) -> None:
    async with asyncio.timeout(20):
        await inbox.idle()


async def statuses(db: Database) -> dict[str, str]:
    async with db.read() as session:
        rows = await session.execute(select(InboundUpdate.key, InboundUpdate.status))
        return {key: status for key, status in rows.all()}


class Recorder:
    """A `process` that runs each update's text through the bridge and keeps the answers."""

    def __init__(
        self, bridge: Bridge, hold: Callable[[InboundItem], Awaitable[None]] | None = None
    ) -> None:
        self.bridge = bridge
        self.hold = hold
        self.answers: list[tuple[int, list[Reply]]] = []
        self.events: list[str] = []
        self.ended = asyncio.Event()

    async def __call__(self, item: InboundItem) -> None:
        n = int(item.payload["n"])
        self.events.append(f"start {n}")

        def request_for(command: str, args: str) -> Request:
            return Request(ALEX, ChatRef("terminal", "dm-alex"), command, args)

        replies = await self.bridge.handle_text(request_for, str(item.payload["text"]))
        if self.hold is not None:
            await self.hold(item)  # the replies are not out yet
        self.answers.append((n, replies))
        self.events.append(f"end {n}")
        self.ended.set()


@pytest.fixture
async def bridge(settings: Settings, db: Database, clock: Clock) -> Bridge:
    b = Bridge(settings, db, all_commands(), clock=clock)
    await b.start()
    return b


async def test_a_chat_keeps_its_order_while_other_chats_go_ahead(bridge: Bridge) -> None:
    gate = asyncio.Event()

    async def hold(item: InboundItem) -> None:
        if item.payload["n"] == 1:
            await gate.wait()  # chat a's first update waits (for its group's send limit, say)

    recorder = Recorder(bridge, hold)
    inbox = Inbox(bridge.db, "terminal", recorder)
    await inbox.start()
    await inbox.receive([arrival(1, "a"), arrival(2, "a"), arrival(3, "b")])
    async with asyncio.timeout(10):
        await recorder.ended.wait()
    assert recorder.events[-1] == "end 3"
    assert "start 2" not in recorder.events  # behind 1, in its own chat
    gate.set()
    await settled(inbox)
    assert recorder.events.index("end 1") < recorder.events.index("start 2")
    assert set((await statuses(bridge.db)).values()) == {journal.DONE}


async def test_a_command_that_wrote_is_answered_again_not_run_again_after_a_crash(
    bridge: Bridge,
) -> None:
    never, committed = asyncio.Event(), asyncio.Event()

    async def crash_before_sending(item: InboundItem) -> None:
        committed.set()  # the bridge has answered: the command's effects are committed
        await never.wait()

    first = Recorder(bridge, crash_before_sending)
    inbox = Inbox(bridge.db, "terminal", first)
    await inbox.start()
    await inbox.receive([arrival(1, text="/subscribe announcements")])
    async with asyncio.timeout(10):
        await committed.wait()
    assert (await statuses(bridge.db))["u1"] == journal.HANDLED
    await inbox.stop(grace=0)  # the process dies with the answer unsent
    assert first.answers == []

    second = Recorder(bridge)
    restarted = Inbox(bridge.db, "terminal", second)
    await restarted.start()
    await settled(restarted)
    [(n, replies)] = second.answers
    # The stored answer, not "already subscribed" from running the command a second time.
    assert n == 1 and "now subscribed" in replies[0].plain_text
    assert (await statuses(bridge.db))["u1"] == journal.DONE


async def test_what_is_stored_survives_a_stop_and_is_handled_once_at_the_next_start(
    bridge: Bridge,
) -> None:
    never = asyncio.Event()

    async def stuck(item: InboundItem) -> None:
        await never.wait()

    inbox = Inbox(bridge.db, "terminal", Recorder(bridge, stuck))
    await inbox.start()
    await inbox.receive([arrival(n, chat=f"c{n}") for n in range(5)])
    async with asyncio.timeout(5):  # the grace is honoured, not the stuck handlers
        await inbox.stop(grace=0.2)
    recorder = Recorder(bridge)
    restarted = Inbox(bridge.db, "terminal", recorder)
    await restarted.start()
    await settled(restarted)
    assert sorted(n for n, _ in recorder.answers) == [0, 1, 2, 3, 4]


async def test_a_repeat_of_a_stored_update_is_dropped_even_once_it_is_done(
    bridge: Bridge,
) -> None:
    recorder = Recorder(bridge)
    inbox = Inbox(bridge.db, "terminal", recorder)
    await inbox.start()
    await inbox.receive([arrival(1), arrival(1)])
    await settled(inbox)
    await inbox.receive([arrival(1)])  # the platform sent it again
    await settled(inbox)
    assert [n for n, _ in recorder.answers] == [1]
    async with bridge.db.read() as session:
        row = await session.scalar(select(InboundUpdate))
    assert row is not None and row.payload is None  # the content went once it was done


async def test_an_unreadable_update_is_skipped_once_and_logged_without_its_content(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    async def cannot_read(item: InboundItem) -> None:
        calls.append(item.id)
        raise Unreadable from KeyError("chat")

    inbox = Inbox(db, "terminal", cannot_read)
    await inbox.start()
    with caplog.at_level(logging.INFO):
        await inbox.receive([arrival(1, text="a private message from Alex")])
        await settled(inbox)
    assert len(calls) == 1
    assert (await statuses(db))["u1"] == journal.SKIPPED
    assert "could not be read (KeyError)" in caplog.text
    assert "private message" not in caplog.text


async def test_an_update_whose_handling_keeps_failing_is_skipped_after_a_few_tries(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ccin_bridge.handlers.inbox.RETRY_SECONDS", 0.01)
    calls: list[int] = []

    async def broken(item: InboundItem) -> None:
        calls.append(item.id)
        raise RuntimeError("the platform library fell over")

    inbox = Inbox(db, "terminal", broken)
    await inbox.start()
    await inbox.receive([arrival(1)])
    await settled(inbox)
    assert len(calls) == MAX_ATTEMPTS
    assert (await statuses(db))["u1"] == journal.SKIPPED


async def test_a_read_only_command_of_a_known_caller_does_not_wait_for_a_writer(
    bridge: Bridge,
) -> None:
    def request_for(command: str, args: str) -> Request:
        return Request(ALEX, ChatRef("terminal", "dm-alex"), command, args)

    await bridge.handle_text(request_for, "/start")  # first contact: the account is written
    release = asyncio.Event()
    answered: list[str] = []

    async def long_writer() -> None:
        async with bridge.db.session() as session:
            await journal.add(session, "terminal", [arrival(99)])
            await session.flush()
            await release.wait()  # holds SQLite's write lock until every search is answered

    writer = asyncio.create_task(long_writer())
    await asyncio.sleep(0.05)
    for line in ("/search food", "/events", "/groups", "/suppliers", "/help", "/mydata"):
        async with asyncio.timeout(10):
            replies = await bridge.handle_text(request_for, line)
        answered.append(line)
        assert "went wrong" not in replies[0].plain_text, line
    release.set()
    await writer
    assert len(answered) == 6


async def test_forgetme_erases_what_the_person_sent_and_only_that(bridge: Bridge) -> None:
    recorder = Recorder(bridge)
    inbox = Inbox(bridge.db, "terminal", recorder)
    async with bridge.db.session() as session:  # someone else's, still waiting
        await journal.add(
            session, "terminal", [Arrival("other", "b", "bea", {"n": 9, "text": "/help"})]
        )
    await inbox.start()
    await inbox.receive([arrival(1, text="/search Alex's plans")])
    await settled(inbox)
    await inbox.receive([arrival(2, text="/forgetme --confirm")])
    await settled(inbox)
    assert "forgotten" in recorder.answers[-1][1][0].plain_text
    async with bridge.db.read() as session:
        senders = list(await session.scalars(select(InboundUpdate.sender)))
    assert senders == ["bea"]


async def test_a_chat_event_handled_before_a_crash_tells_the_admins_once(
    settings: Settings, db: Database, clock: Clock
) -> None:
    bridge = await make_bridge(settings, db, clock)
    await say(bridge, ADMIN, "/help")  # admins get notices once the bot has met them
    stranger = UserRef("telegram", "700999999", display_name="Stan Stranger")
    chat = ChatRef("telegram", OFFICERS_TG, is_private=False)
    never, told = asyncio.Event(), asyncio.Event()

    async def notice_then_crash(item: InboundItem) -> None:
        await chat_events.member_joined(bridge, chat=chat, user=stranger)
        told.set()
        await never.wait()  # the process dies before the update is recorded as done

    first = Inbox(db, "telegram", notice_then_crash)
    await first.start()
    await first.receive([Arrival("m1", "chat:officers", stranger.user_id, {})])
    async with asyncio.timeout(10):
        await told.wait()
    await first.stop(grace=0)

    async def notice(item: InboundItem) -> None:
        await chat_events.member_joined(bridge, chat=chat, user=stranger)

    again = Inbox(db, "telegram", notice)
    await again.start()
    await settled(again)
    async with db.read() as session:
        notices = await session.scalar(
            select(func.count()).select_from(Push).where(Push.title == "Unapproved chat member")
        )
    assert notices == 1


async def test_a_retry_does_not_run_again_a_command_the_failed_attempt_committed(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ccin_bridge.handlers.inbox.RETRY_SECONDS", 0.01)
    answers: list[str] = []

    async def fails_after_answering_once(item: InboundItem) -> None:
        def request_for(command: str, args: str) -> Request:
            return Request(ALEX, ChatRef("terminal", "dm-alex"), command, args)

        replies = await bridge.handle_text(request_for, "/subscribe announcements")
        answers.append(replies[0].plain_text)
        if len(answers) == 1:
            raise ConnectionError("the platform dropped the reply")

    inbox = Inbox(bridge.db, "terminal", fails_after_answering_once)
    await inbox.start()
    await inbox.receive([arrival(1)])
    await settled(inbox)
    assert len(answers) == 2 and all("now subscribed" in a for a in answers)
