"""The terminal chat: the same handlers as Telegram and Slack, in a shell or a pipe.

Buttons are shown as numbered choices; typing the number picks one. With stdin from a pipe it
prints no prompts, so a scripted conversation can be tested line by line.

Only the person at the keyboard is reachable here: a push for anyone else is kept (`Away`)
and shown to them, under "While you were away", when they next open the chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TextIO

from ccin_bridge.bots.terminal.render import render_reply
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.events import ButtonPressed, TypedLine
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.plural import plural
from ccin_bridge.handlers.replies import Button, Reply
from ccin_bridge.scheduler.outbound import Away

_CHOICE = re.compile(r"^\s*(\d{1,3})\s*$")
QUIT = {"/quit", "/exit", "quit", "exit"}


class TerminalChat:
    """One person at the terminal; also the Outbound for pushes addressed to them."""

    platform = "terminal"

    def __init__(
        self,
        bridge: Bridge,
        *,
        name: str,
        stdin: TextIO = sys.stdin,
        stdout: TextIO = sys.stdout,
        attachments_dir: Path | None = None,
    ) -> None:
        self.bridge = bridge
        self.user = UserRef("terminal", _slug(name), display_name=name, username=name)
        self.chat = ChatRef("terminal", f"dm-{_slug(name)}", is_private=True)
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = stdin.isatty()
        self.attachments_dir = attachments_dir
        self._choices: list[Button] = []
        self._carry_choices = False  # the next answer numbers on from the kept messages' buttons
        self._readline = False  # lines read with line editing (set once the chat runs)

    @property
    def chat_ids(self) -> tuple[str, ...]:
        """The chat ids pushes for the person at this terminal are addressed to: only their
        user id, as every push names an account by its id. Not the chat's own "dm-<name>",
        which is also the user id of someone called "DM <name>"."""
        return (self.user.user_id,)

    @property
    def push_chat(self) -> ChatRef:
        """Where a push for the person at this terminal is addressed."""
        return ChatRef(self.platform, self.user.user_id, is_private=True)

    async def run(
        self,
        on_ready: Callable[[], Coroutine[Any, Any, None]] | None = None,
        catch_up: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        """Chat until /quit or the end of input. `catch_up` (what was kept for this person
        while they were away, shown with `show_kept`) runs first, after the greeting. `on_ready`
        (the scheduler and the outbox workers) starts beside the chat once its greeting is
        out, so the person need not wait for it, whether they type in a terminal or a program
        writes through a pipe; the chat ends only once it has started, so the caller can stop
        what it started."""
        self._write(
            f"{self.bridge.settings.network_name} — terminal chat as {self.user.display_name}. "
            "Type /help, a number to press a button, or /quit."
        )
        if catch_up is not None:
            await catch_up()
        await self.say("/start")
        starting: asyncio.Task[None] | None = None
        if on_ready is not None:
            starting = asyncio.create_task(on_ready(), name="terminal-background")
        editing = self._line_editing()
        try:
            await self._converse()
        finally:
            editing.close()
            if starting is not None:
                await starting

    def _line_editing(self) -> contextlib.ExitStack:
        """In a terminal: line editing and this session's history (readline), and the
        terminal's settings put back however the chat ends (readline changes them while it
        reads a line, and a chat stopped by a signal leaves it reading)."""
        stack = contextlib.ExitStack()
        self._readline = False
        if not self.interactive or self.stdin is not sys.stdin:
            return stack
        try:
            import readline  # noqa: F401  (input() edits lines once it is loaded)
            import termios
        except ImportError:  # not on every platform: plain lines then
            return stack
        with contextlib.suppress(termios.error):
            settings = termios.tcgetattr(self.stdin.fileno())
            fd = self.stdin.fileno()
            stack.callback(termios.tcsetattr, fd, termios.TCSADRAIN, settings)
        self._readline = True
        return stack

    async def _converse(self) -> None:
        while True:
            if self.interactive and not self._readline:
                self.stdout.write("> ")
                self.stdout.flush()
            line = await self._read_line()
            if not line:  # end of input
                break
            if line.strip().casefold() in QUIT:
                break
            if not self.interactive and line.strip():
                self._write(f"> {line.rstrip()}")
            await self.say(line)

    async def _read_line(self) -> str:
        """The next line, read in a daemon thread: a chat stopped by Ctrl-C or SIGTERM while
        the person has not pressed Enter ends at once (a thread of the loop's executor would
        hold the interpreter's exit until they did)."""
        loop = asyncio.get_running_loop()
        line: asyncio.Future[str] = loop.create_future()

        def settle(result: str | BaseException) -> None:
            if line.done():
                return
            if isinstance(result, BaseException):
                line.set_exception(result)
            else:
                line.set_result(result)

        def read() -> None:
            try:
                result: str | BaseException = (
                    input("> ") + "\n" if self._readline else self.stdin.readline()
                )
            except EOFError:  # Ctrl-D at the prompt
                result = ""
            except (OSError, ValueError) as exc:  # stdin closed under us
                result = exc
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                loop.call_soon_threadsafe(settle, result)

        threading.Thread(target=read, name="terminal-input", daemon=True).start()
        return await line

    async def say(self, line: str) -> None:
        """Handle one typed line and print the answer."""
        if not line.strip():
            return
        choice = _CHOICE.match(line)
        if choice and self._choices:
            index = int(choice.group(1)) - 1
            if 0 <= index < len(self._choices):
                button = self._choices[index]
                payload = await self.bridge.encode_action(button.action, max_bytes=1024)
                event = ButtonPressed(self.user, self.chat, payload)
                self.show((await self.bridge.dispatch(event)).reply_list)
                return
            self._write(f"There is no choice {index + 1}; pick 1 to {len(self._choices)}.")
            return
        self.show((await self.bridge.dispatch(TypedLine(self.user, self.chat, line))).reply_list)

    async def send(self, *, chat: ChatRef, reply: Reply) -> None:
        """A push (digest, reminder, approval card ...) for the person at this terminal; one
        for anyone else is kept until they open the chat themselves."""
        if chat.chat_id not in self.chat_ids:
            raise Away("not at the terminal now; kept until they next open the chat")
        self._write("— message from the bridge —")
        self.show([reply], keep_choices=True)

    def show_kept(self, replies: list[Reply]) -> None:
        """What came for this person while they were away, before anything else."""
        if not replies:
            return
        count = len(replies)
        self._write(f"While you were away: {plural(count, 'message')}.")
        for number, reply in enumerate(replies, 1):
            if count > 1:
                self._write(f"— {number} of {count} —")
            self.show([reply], keep_choices=True)
        self._write("— that is everything kept for you —")
        self._carry_choices = True  # their buttons stay pressable below the home menu

    def show(self, replies: list[Reply], *, keep_choices: bool = False) -> None:
        """Print replies and number their buttons. An answer to what was typed numbers afresh;
        with `keep_choices` (a push arriving unasked) its buttons are numbered after those on
        screen, so the number someone is about to type still presses what it said."""
        if not keep_choices and not self._carry_choices:
            self._choices = []
        self._carry_choices = False
        for reply in replies:
            rendered, buttons = render_reply(reply, first_number=len(self._choices) + 1)
            self._choices.extend(buttons)
            self._write(rendered)
            if reply.attachment is not None and self.attachments_dir is not None:
                self.attachments_dir.mkdir(parents=True, exist_ok=True)
                path = self.attachments_dir / reply.attachment.filename
                path.write_bytes(reply.attachment.content)
                self._write(f"(saved to {path})")

    def note(self, message: str) -> None:
        """A line from the bridge itself (not a reply), e.g. where its admin console is."""
        self._write(message)

    def _write(self, message: str) -> None:
        self.stdout.write(message + "\n\n")
        self.stdout.flush()


def _slug(name: str) -> str:
    """The account a name at the terminal is: letters and digits of any script kept, so that
    "李雷" and "Ada" are people of their own (and "Ada Lovelace", "ada-lovelace" the same)."""
    return re.sub(r"[\W_]+", "-", name.casefold()).strip("-")[:40] or "guest"
