"""The terminal chat, in-process with text streams (the CLI tests run it as a real process)."""

from __future__ import annotations

import asyncio
import io

from ccin_bridge.bots.terminal.chat import TerminalChat
from ccin_bridge.handlers import reply_codec
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.replies import text
from ccin_bridge.scheduler.delivery import DeliveryPolicy, DeliveryService
from ccin_bridge.store import audiences, outbox, people
from ccin_bridge.store.outbox import Target


async def converse(bridge: Bridge, script: str, name: str = "Dana") -> str:
    out = io.StringIO()
    chat = TerminalChat(bridge, name=name, stdin=io.StringIO(script), stdout=out)
    await chat.run()
    return out.getvalue()


async def test_numbers_press_the_buttons_shown_last(bridge: Bridge) -> None:
    # /start shows [1] Groups [2] Events [3] DPS suppliers [4] Help
    out = await converse(bridge, "3\n1\n")
    assert "> 3" in out and "DPS suppliers (23" in out
    assert "page 2 of 3" in out  # the only button on the suppliers page is Next


async def test_join_by_buttons_then_leave(bridge: Bridge) -> None:
    out = await converse(bridge, "/groups\n4\n1\nOxford City Council\n1\n/leave housing\n")
    assert "Housing: rules of engagement" in out
    assert "You are now a member of Housing" in out
    assert "You have left Housing" in out


async def test_bad_input_in_the_chat(bridge: Bridge) -> None:
    script = "\n".join(
        [
            "99",
            "/nonsense",
            "/search " + "z" * 10_000,
            "/🙂",
            "hello there",
            "/search \u202efood",
            "",
        ]
    )
    out = await converse(bridge, script)
    assert "I don't know the command /nonsense" in out
    assert "That is 10,000 characters; please keep it under 500" in out
    assert "There is no choice 99; pick 1 to 4." in out
    assert "I don't know the command /🙂" in out
    assert "Did you want to search for “hello there”?" in out
    assert "Cooperative Approaches to Sustainable Food" in out
    assert "Traceback" not in out


async def test_quit_ends_the_chat(bridge: Bridge) -> None:
    out = await converse(bridge, "/quit\n/search food\n")
    assert "Sustainable Food" not in out


async def test_pushes_for_the_person_at_the_terminal_are_printed(bridge: Bridge) -> None:
    out = io.StringIO()
    chat = TerminalChat(bridge, name="Dana", stdin=io.StringIO(""), stdout=out)
    await chat.say("/start")  # the bridge now knows Dana
    async with bridge.db.session() as session:
        person = await people.find_person(session, "terminal", "dana")
        assert person is not None
        await outbox.create_push(
            session,
            kind="broadcast",
            payload=reply_codec.encode(text("The Officer Network meets on Tuesday.")),
            targets=[
                *await audiences.person_targets(session, person.id),
                Target("terminal", "someone-else", None),
            ],
        )
    service = DeliveryService(bridge.db, {"terminal": chat}, DeliveryPolicy(poll_seconds=0.02))
    await service.start()
    async with asyncio.timeout(20):
        await service.drain()
    await service.stop()
    assert "— message from the bridge —\n\nThe Officer Network meets on Tuesday." in out.getvalue()
    async with bridge.db.session() as session:
        push = (await outbox.recent_pushes(session, 1))[0]
        report = await outbox.report(session, push.id)
    # Someone not at this terminal is away, not failed: kept for when they open the chat.
    assert report is not None and report.counts["sent"] == 1 and report.counts["waiting"] == 1
    assert report.counts["failed"] == 0


class _Terminal(io.StringIO):
    """Typed input, as from a terminal (which shows prompts)."""

    def isatty(self) -> bool:
        return True


async def _ready_at(bridge: Bridge, stdin: io.StringIO) -> list[str]:
    """What the chat had printed each time it started what goes beside it."""
    out = io.StringIO()
    chat = TerminalChat(bridge, name="Dana", stdin=stdin, stdout=out)
    seen: list[str] = []

    async def ready() -> None:
        seen.append(out.getvalue())

    await chat.run(on_ready=ready)
    return seen


async def test_the_scheduler_starts_beside_a_terminal_chat_once_its_greeting_is_out(
    bridge: Bridge,
) -> None:
    [printed] = await _ready_at(bridge, _Terminal("/events\n/help\n"))
    assert "welcome" in printed and "Upcoming events" not in printed  # before any line


async def test_the_scheduler_starts_beside_a_piped_chat_before_its_first_line(
    bridge: Bridge,
) -> None:
    # A program talking through pipes may wait for a push before it writes its next line.
    [printed] = await _ready_at(bridge, io.StringIO("/events\n/help\n"))
    assert "welcome" in printed and "Upcoming events" not in printed
    # A chat over at once still waits for what it started, so that it can be stopped.
    assert len(await _ready_at(bridge, io.StringIO("/quit\n/events\n"))) == 1
    assert len(await _ready_at(bridge, io.StringIO(""))) == 1
