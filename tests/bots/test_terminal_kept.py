"""Pushes for someone not at this terminal are kept, and shown to them, once, when they next
open the chat (they used to be marked failed for good)."""

from __future__ import annotations

import asyncio
import io

from ccin_bridge.bots.terminal.chat import TerminalChat
from ccin_bridge.cli.commands import show_kept
from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.replies import Button, ReplyBuilder
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.store import audiences, outbox, people


async def _known(bridge: Bridge, name: str) -> int:
    """Someone who has used the terminal chat once: their person id."""
    chat = TerminalChat(bridge, name=name, stdin=io.StringIO(""), stdout=io.StringIO())
    await chat.say("/start")
    async with bridge.db.read() as session:
        person = await people.find_person(session, "terminal", chat.user.user_id)
        assert person is not None
        return person.id


async def _push_to(bridge: Bridge, person_id: int, message: str, created_by: int) -> int:
    reply = ReplyBuilder().para(message).buttons(Button("Stop announcements", "help")).build()
    async with bridge.db.session() as session:
        push_id = await outbox.create_push(
            session,
            kind="broadcast",
            title=message,
            payload=reply_codec.encode(reply),
            targets=await audiences.person_targets(session, person_id),
            created_by=created_by,
        )
    assert push_id is not None
    return push_id


async def _deliver_while_at_the_terminal(bridge: Bridge, chat: TerminalChat) -> None:
    service = DeliveryService(bridge.db, {"terminal": chat}, DeliveryPolicy(poll_seconds=0.02))
    await service.start()
    async with asyncio.timeout(20):
        await service.drain()
    await service.stop()


async def _open_chat(bridge: Bridge, name: str, script: str = "") -> str:
    out = io.StringIO()
    chat = TerminalChat(bridge, name=name, stdin=io.StringIO(script), stdout=out)

    async def catch_up() -> None:
        await show_kept(bridge.db, chat, away=True)

    await chat.run(catch_up=catch_up)
    return out.getvalue()


async def test_a_push_for_someone_away_is_kept_and_shown_once_when_they_are_back(
    bridge: Bridge,
) -> None:
    ada = await _known(bridge, "Ada")
    bob = await _known(bridge, "Bob")
    push_id = await _push_to(bridge, ada, "The Officer Network meets on Tuesday.", bob)
    bobs_screen = io.StringIO()
    at_terminal = TerminalChat(bridge, name="Bob", stdin=io.StringIO(""), stdout=bobs_screen)
    await _deliver_while_at_the_terminal(bridge, at_terminal)  # Bob's workers, Ada away
    assert "\n\nThe Officer Network meets" not in bobs_screen.getvalue()  # only his report
    async with bridge.db.read() as session:
        kept = await outbox.report(session, push_id)
    assert kept is not None and kept.counts["waiting"] == 1 and kept.counts["failed"] == 0

    first = await _open_chat(bridge, "Ada")
    assert "While you were away: 1 message.\n\nThe Officer Network meets on Tuesday." in first
    # Shown before the home menu, whose buttons are numbered on after the message's.
    assert first.index("While you were away") < first.index("Hello Ada")
    assert first.index("[1] Stop announcements") < first.index("[2] Groups")
    async with bridge.db.read() as session:
        shown = await outbox.report(session, push_id)
    assert shown is not None and shown.counts["sent"] == 1 and shown.counts["waiting"] == 0

    again = await _open_chat(bridge, "Ada")
    assert "While you were away" not in again and "Officer Network" not in again


async def test_the_report_does_not_wait_for_someone_away(bridge: Bridge) -> None:
    ada = await _known(bridge, "Ada")
    bob = await _known(bridge, "Bob")
    await _push_to(bridge, ada, "Agenda for Tuesday", bob)
    bobs_screen = io.StringIO()
    at_terminal = TerminalChat(bridge, name="Bob", stdin=io.StringIO(""), stdout=bobs_screen)
    await _deliver_while_at_the_terminal(bridge, at_terminal)
    # Bob sent it: his delivery report comes now, and says where it is.
    assert "Delivery report: Agenda for Tuesday" in bobs_screen.getvalue()
    assert "1 away: kept until they are next in the chat" in bobs_screen.getvalue()


async def test_messages_queued_while_no_chat_was_open_are_shown_on_opening(
    bridge: Bridge,
) -> None:
    ada = await _known(bridge, "Ada")
    bob = await _known(bridge, "Bob")
    await _push_to(bridge, ada, "First news", bob)
    await _push_to(bridge, ada, "Second news", bob)
    out = await _open_chat(bridge, "Ada")
    assert "While you were away: 2 messages." in out
    assert out.index("— 1 of 2 —") < out.index("First news") < out.index("Second news")


async def test_a_push_keeps_the_numbers_on_screen_pressing_what_they_said(
    bridge: Bridge,
) -> None:
    out = io.StringIO()
    chat = TerminalChat(bridge, name="Dana", stdin=io.StringIO(""), stdout=out)
    await chat.say("/start")  # [1] Groups [2] Events [3] DPS suppliers [4] Help
    card = ReplyBuilder().para("Approve?").buttons(Button("Yes", "help")).build()
    await chat.send(chat=chat.push_chat, reply=card)
    assert "[5] Yes" in out.getvalue()  # numbered after what was on screen
    await chat.say("3")
    assert "DPS suppliers (" in out.getvalue()  # 3 still means DPS suppliers


async def test_a_push_finished_by_the_catch_up_still_reports_to_its_sender(
    bridge: Bridge,
) -> None:
    """Ada's row was still pending (no lane had taken it) when she opened the chat: showing it
    finishes the push, and Bob, who sent it, gets his delivery report as a lane would send."""
    ada = await _known(bridge, "Ada")
    bob = await _known(bridge, "Bob")
    push_id = await _push_to(bridge, ada, "Meet on Tuesday.", bob)
    assert "While you were away: 1 message." in await _open_chat(bridge, "Ada")
    async with bridge.db.read() as session:
        shown = await outbox.report(session, push_id)
    assert shown is not None and shown.finished and shown.counts["sent"] == 1

    bobs = await _open_chat(bridge, "Bob")
    assert "While you were away: 1 message." in bobs
    assert "Delivery report: Meet on Tuesday." in bobs
    again = await _open_chat(bridge, "Ada")  # once: Ada's next look queues no second report
    assert "While you were away" not in again
    assert "Delivery report" not in await _open_chat(bridge, "Bob")


async def test_someone_called_dm_ann_keeps_their_messages_from_ann(bridge: Bridge) -> None:
    """Someone called "DM Ann" is the account `dm-ann`, also the id of Ann's own chat: what was kept
    for them is theirs alone, whichever of the two opens the chat first."""
    dm_ann = await _known(bridge, "DM Ann")
    bob = await _known(bridge, "Bob")
    await _known(bridge, "Ann")
    push_id = await _push_to(bridge, dm_ann, "For DM Ann only.", bob)
    anns = await _open_chat(bridge, "Ann")
    assert "While you were away" not in anns and "For DM Ann only." not in anns
    async with bridge.db.read() as session:
        kept = await outbox.report(session, push_id)
    assert kept is not None and kept.counts["pending"] == 1
    theirs = await _open_chat(bridge, "DM Ann")
    assert "While you were away: 1 message.\n\nFor DM Ann only." in theirs
