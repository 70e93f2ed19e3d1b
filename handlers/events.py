"""What an adapter hands the core (`Bridge.dispatch`) and what it gets back.

An adapter translates what its platform delivered into one of these events, dispatches it, and
carries out the outcome: each reply to the destination the core chose, a join request let in or
not, inline results shown. Which answer goes where (personal data never in a group), whether a
bare word is a command, and what happens when handling fails are decided once, in the core.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ccin_bridge.handlers.forms import Form
from ccin_bridge.handlers.identity import ChatRef, UserRef
from ccin_bridge.handlers.inline import InlinePage
from ccin_bridge.handlers.replies import Block, Reply

# here: the chat the event came from. asker_private: only the person who asked, where they
# asked if the platform can show a message to one member of a chat (Slack's ephemeral
# messages), else in their private chat. asker_dm: the person's private chat with the bot.
Destination = Literal["here", "asker_private", "asker_dm"]
HERE: Destination = "here"
ASKER_PRIVATE: Destination = "asker_private"
ASKER_DM: Destination = "asker_dm"


@dataclass(frozen=True)
class TypedLine:
    """A line a person typed: `/events`, with or without the platform's command prefix;
    `events` bare where the platform's people type commands bare (its registry entry); or the
    answer to the step of a flow in progress. `addressed`: the line mentioned the bot."""

    user: UserRef
    chat: ChatRef
    text: str
    addressed: bool = False


@dataclass(frozen=True)
class ButtonPressed:
    """A button of one of the bridge's replies, by its payload (`Bridge.encode_action`).
    `typed` is text a form sent with it (for a button whose `takes_text` is set)."""

    user: UserRef
    chat: ChatRef
    payload: str
    typed: str = ""


@dataclass(frozen=True)
class FormSubmitted:
    """A platform's form for a flow (Slack's broadcast modal, built from the flow's steps):
    `answers` by step name go to `command`, each through its step. `check_only`: only say
    what is wrong with them; nothing is saved and nothing asked."""

    user: UserRef
    chat: ChatRef
    command: str
    answers: Mapping[str, str] = field(default_factory=dict)
    check_only: bool = False


@dataclass(frozen=True)
class JoinRequested:
    """Someone asked to join a chat that needs approval (Telegram's join requests)."""

    user: UserRef
    chat: ChatRef


@dataclass(frozen=True)
class MemberJoined:
    user: UserRef
    chat: ChatRef


@dataclass(frozen=True)
class MemberLeft:
    user: UserRef
    chat: ChatRef


@dataclass(frozen=True)
class BotAdded:
    chat: ChatRef
    by: UserRef | None = None


@dataclass(frozen=True)
class BotRemoved:
    chat: ChatRef
    by: UserRef | None = None


@dataclass(frozen=True)
class BlockedByUser:
    """A person blocked the bot (`blocked`), or unblocked it."""

    user: UserRef
    blocked: bool = True


@dataclass(frozen=True)
class ChatMoved:
    """The platform gave a chat a new id (a Telegram group became a supergroup)."""

    platform: str
    old_chat_id: str
    new_chat_id: str


@dataclass(frozen=True)
class InlineQuery:
    """`@bot words` typed in any chat; `offset` is the one the last page gave back."""

    user: UserRef
    query: str
    offset: str = ""


@dataclass(frozen=True)
class ChatPost:
    """A message someone posted in a group chat (not a command), relayed to the other chats
    of its group when the group relays. `message_id` is the platform's id of it in this chat
    and `reply_to` that of the message it answers (a Telegram reply, a Slack thread), both
    opaque to the core; `blocks` its text as the adapter read the platform's formatting.
    `edited`: a new version of a message posted before. `from_bot`: a bot posted it."""

    user: UserRef
    chat: ChatRef
    message_id: str
    blocks: tuple[Block, ...]
    reply_to: str | None = None
    edited: bool = False
    from_bot: bool = False


@dataclass(frozen=True)
class ChatPostDeleted:
    """A message in a group chat was deleted (by `user`, where the platform says who)."""

    chat: ChatRef
    message_id: str
    user: UserRef | None = None


Event = (
    TypedLine
    | ButtonPressed
    | FormSubmitted
    | JoinRequested
    | MemberJoined
    | MemberLeft
    | BotAdded
    | BotRemoved
    | BlockedByUser
    | ChatMoved
    | InlineQuery
    | ChatPost
    | ChatPostDeleted
)


@dataclass(frozen=True)
class Outgoing:
    reply: Reply
    to: Destination = HERE


@dataclass(frozen=True)
class Outcome:
    """What to do about an event. `admit` answers a join request (None: leave it undecided);
    `inline` answers an inline query; `failed`: handling failed, was logged, and whoever asked
    is told in `replies` (a chat event that failed tells nobody). `form`: what the flow made
    of a submitted form (its answers' problems by field, whether it took them)."""

    replies: tuple[Outgoing, ...] = ()
    admit: bool | None = None
    inline: InlinePage | None = None
    form: Form | None = None
    failed: bool = False

    @property
    def reply_list(self) -> list[Reply]:
        return [o.reply for o in self.replies]
