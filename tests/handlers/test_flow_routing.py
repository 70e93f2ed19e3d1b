"""How typed text reaches a step-by-step flow: plain text in a DM, `/text` anywhere."""

from __future__ import annotations

from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.handlers.requests import Request

SAM = UserRef("slack", "U0SAM", display_name="Sam Sample")
CHANNEL = ChatRef("slack", "C0TEAM", is_private=False)


def in_channel(command: str, args: str) -> Request:
    return Request(SAM, CHANNEL, command, args, prefix="/ccin ")


def says(replies: list[Reply]) -> str:
    return "\n".join(r.plain_text for r in replies)


async def test_a_slash_line_that_is_no_command_continues_the_flow_in_a_channel(
    bridge: Bridge,
) -> None:
    await bridge.handle_text(in_channel, "/join housing")
    asked = says(await bridge.handle_text(in_channel, "/join housing --accept"))
    assert "Which organisation are you from?" in asked
    # Channel chatter never feeds the flow ...
    assert "your role" not in says(await bridge.handle_text(in_channel, "lunch anyone?"))
    # ... but `/ccin <text>` is addressed to the bot: it answers the step.
    answer = says(await bridge.handle_text(in_channel, "/Stockport"))
    assert "And your role?" in answer
    assert "I don't know the command" not in answer


async def test_without_a_flow_an_unknown_command_is_still_named(bridge: Bridge) -> None:
    answer = says(await bridge.handle_text(in_channel, "/serch food"))
    assert "I don't know the command /ccin serch" in answer
    assert "Did you mean /ccin search?" in answer


ADMIN = UserRef("terminal", "ada", display_name="Ada Admin")


def admin_dm(command: str, args: str) -> Request:
    return Request(ADMIN, ChatRef("terminal", "ada"), command, args)


async def test_a_broadcast_keeps_its_paragraphs_and_a_search_does_not(bridge: Bridge) -> None:
    bridge.grant_session_admin(ADMIN)
    typed = "/broadcast officers First line\r\nstill first.\n\n\n\nSecond   paragraph."
    preview = says(await bridge.handle_text(admin_dm, typed))
    assert "First line\nstill first.\n\nSecond paragraph." in preview
    # The guided flow: the text typed at its step keeps its lines too.
    await bridge.handle_text(admin_dm, "/cancel")
    await bridge.handle_text(admin_dm, "/broadcast officers")
    preview = says(await bridge.handle_text(admin_dm, "Line one\nLine two"))
    assert "Line one\nLine two" in preview
    # Ordinary commands still see one line.
    found = says(await bridge.handle_text(admin_dm, "/search food\nsustainable"))
    assert "food sustainable" in found


async def test_free_text_has_a_message_sized_limit(bridge: Bridge) -> None:
    bridge.grant_session_admin(ADMIN)
    answer = says(await bridge.handle_text(admin_dm, "/broadcast officers " + "x" * 4100))
    assert "That is 4,109 characters; please keep it under 4,000." in answer
    answer = says(await bridge.handle_text(admin_dm, "/broadcast officers " + "word " * 700))
    assert "Preview" in answer


ANN = UserRef("slack", "U0ANN", display_name="Ann Example")


def ann_dm(command: str, args: str) -> Request:
    return Request(ANN, ChatRef("slack", "D0ANN", is_private=True), command, args, prefix="/ccin ")


def ann_in_group(command: str, args: str) -> Request:
    return Request(
        ANN, ChatRef("slack", "C0TEAM", is_private=False), command, args, prefix="/ccin "
    )


async def test_a_waiting_step_wins_over_a_bare_command_word(bridge: Bridge) -> None:
    """Where people type commands bare (Slack), a line starting with a command's name is that
    command in a private chat, unless a flow waits for an answer: then it is the answer."""
    assert "Officer Network" in says(await bridge.handle_text(ann_dm, "events"))
    assert "What is the title?" in says(await bridge.handle_text(ann_dm, "news"))
    assert "Now the text" in says(await bridge.handle_text(ann_dm, "Events in Leeds this spring"))
    assert "A link" in says(await bridge.handle_text(ann_dm, "Join us at the summit in Leeds."))
    # `cancel` stops the flow even bare; after it the word is a command again.
    assert "Officer Network" not in says(await bridge.handle_text(ann_dm, "cancel"))
    assert "Officer Network" in says(await bridge.handle_text(ann_dm, "Events"))


async def test_a_bare_command_word_in_a_group_runs_only_when_addressed_to_the_bot(
    bridge: Bridge,
) -> None:
    chatter = says(await bridge.handle_text(ann_in_group, "events are fun"))
    assert "Officer Network" not in chatter
    mention = says(await bridge.handle_text(ann_in_group, "events", addressed=True))
    assert "Officer Network" in mention


async def test_where_commands_take_a_slash_a_bare_word_is_only_text(bridge: Bridge) -> None:
    """On Telegram (and the terminal) `approve 12` or `leave it to me` typed to the bot is
    not a command: nothing acts without the `/`."""
    tg = UserRef("telegram", "4242", display_name="Tia Example")

    def tg_dm(command: str, args: str) -> Request:
        return Request(tg, ChatRef("telegram", "4242", is_private=True), command, args)

    answer = says(await bridge.handle_text(tg_dm, "leave it to me"))
    assert "I answer commands such as /search" in answer
    assert "Officer Network" not in says(await bridge.handle_text(tg_dm, "events"))
