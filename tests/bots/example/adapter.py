"""A tiny example adapter: the whole of what a new platform needs, as the README's guide says.

"Echo" is a made-up chat platform whose people type `!command`. Its registry entry is below
(a real adapter names it in pyproject's `ccin_bridge.platforms` entry points; a test registers
it directly), and `EchoBot` translates in (a typed line becomes a `TypedLine` event for
`Bridge.dispatch`) and carries out the outcome (each reply where the core sends it); it is also
the `Outbound` the outbox delivers through.
"""

from __future__ import annotations

from ccin_bridge.handlers.config import Secrets
from ccin_bridge.handlers.core import Bridge
from ccin_bridge.handlers.events import HERE, TypedLine
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.platforms import EnvVar, PlatformSpec
from ccin_bridge.handlers.replies import Reply
from ccin_bridge.scheduler.outbound import Undeliverable


def _user_id_problem(user_id: str) -> str | None:
    return None if user_id.startswith("e") and user_id[1:].isdigit() else "Echo ids look like e42"


PLATFORM = PlatformSpec(
    name="echo",
    label="Echo",
    command_prefix="!",
    group_chats=True,
    env=(EnvVar("ECHO_TOKEN", "the bot's Echo token"),),
    user_id_problem=_user_id_problem,
    example_user_id="e42",
    started_by="ECHO_TOKEN",
    service="tests.bots.example.adapter:EchoBot.from_secrets",
)


class EchoBot:
    """Translate in, let the core decide, execute out."""

    platform = PLATFORM.name

    @classmethod
    def from_secrets(cls, bridge: Bridge, secrets: Secrets, *, greeting: str = "") -> EchoBot:
        """What the registry calls when ECHO_TOKEN is set; options come from the command line."""
        bot = cls(bridge)
        bot.token, bot.greeting = secrets.get("ECHO_TOKEN"), greeting
        return bot

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.sent: list[tuple[str, str]] = []  # (chat id, text) as the platform would show it
        self.token: str | None = None
        self.greeting = ""

    async def start(self) -> None: ...

    async def stop_receiving(self, grace: float = 0) -> None: ...

    async def stop(self, grace: float = 0) -> None: ...

    async def on_message(self, user_id: str, chat_id: str, text: str, *, private: bool) -> None:
        user = UserRef(self.platform, user_id, display_name=f"Echo {user_id}")
        chat = ChatRef(self.platform, chat_id, is_private=private)
        line = "/" + text[1:] if text.startswith(PLATFORM.command_prefix) else text
        outcome = await self.bridge.dispatch(TypedLine(user, chat, line))
        for outgoing in outcome.replies:
            # Echo cannot show a message to one member of a group: private answers go to
            # the person's own chat with the bot (whose id is theirs).
            dm = ChatRef(self.platform, user_id, is_private=True)
            await self.send(chat=chat if outgoing.to == HERE else dm, reply=outgoing.reply)

    async def send(self, *, chat: ChatRef, reply: Reply) -> None:
        if chat.platform != self.platform:
            raise Undeliverable(f"{chat.platform} chat given to the Echo adapter")
        self.sent.append((chat.chat_id, reply.plain_text))
