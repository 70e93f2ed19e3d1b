"""The outbound interfaces that platform adapters implement and scheduled work sends through.

`Outbound` delivers one reply to one chat; `ChatAdmin` changes who is in a real chat. Both
report failure with the exceptions below so the outbox can tell a retry from a dead end.
"""

from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.relay_order import Copy
from ccin_bridge.handlers.replies import Reply

E = TypeVar("E", bound=BaseException)


class DeliveryError(Exception):
    """A send failed. Any other exception is treated as transient and retried with backoff."""


class RetryLater(DeliveryError):
    """The platform asked us to wait (HTTP 429 `retry_after`) or was briefly unavailable."""

    def __init__(self, seconds: float, reason: str = "rate limited") -> None:
        super().__init__(f"{reason}; retry after {seconds:g} s")
        self.seconds = max(0.0, seconds)


class Blocked(DeliveryError):
    """The person blocked the bot or left the platform: never retried, identity deactivated."""


class Undeliverable(DeliveryError):
    """A permanent failure (chat gone, bot removed, message refused): not retried."""


class Away(DeliveryError):
    """The person is not reachable on this platform just now but will be (the terminal chat
    reaches only whoever is at the keyboard): the message is kept, neither retried nor failed,
    until they are back and take it."""


class MaybeSent(DeliveryError):
    """The request may have reached the platform before the send failed: a read timeout after
    the message went out (not a connect timeout, which never reached it), the connection lost
    while waiting for the answer, or a success status with an answer that cannot be read.

    Retried like any transient error, but the delivery is flagged `in_doubt`, so the delivery
    report counts it among those that may have arrived twice. The message is a short
    category ("timed out waiting for the answer"); the details stay in the cause.
    """


# A transient platform error that an adapter lets through as the platform's own exception may
# carry a short category under this attribute (see `labelled`), for the outbox to record.
CATEGORY_ATTRIBUTE = "delivery_category"
UNEXPECTED = "unexpected error"  # the category of a failure nothing placed


def labelled(exc: E, category: str) -> E:
    """Name a transient platform error's category for the outbox, keeping its type."""
    setattr(exc, CATEGORY_ATTRIBUTE, category)
    return exc


def describe(exc: BaseException) -> str:
    """What the outbox records and admins see about a failure: a short category, never the
    raw exception text (which may carry URLs, answers or internals; the log keeps those)."""
    if isinstance(exc, DeliveryError):
        return str(exc) or exc.__class__.__name__
    given = getattr(exc, CATEGORY_ATTRIBUTE, None)
    if isinstance(given, str) and given:
        return given
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):  # ConnectionError and the socket errors under it
        return "network error"
    return UNEXPECTED


class Outbound(Protocol):
    """Sends one reply to one chat on the adapter's own platform."""

    platform: str

    async def send(self, *, chat: ChatRef, reply: Reply) -> None: ...


@runtime_checkable
class ChatAdmin(Protocol):
    """Changes membership of the real chats bound to groups, as an admin of those chats."""

    platform: str

    async def admit(self, *, chat_id: str, user_id: str, label: str) -> str | None:
        """Let one person in. Returns an invite link to send them (Telegram: a join-request
        link only they will be approved through), or None when they were added directly
        (Slack's conversations.invite)."""
        ...

    async def remove(self, *, chat_id: str, user_id: str) -> None:
        """Take one person out of the chat; not being in it is success."""
        ...

    async def members(self, *, chat_id: str) -> set[str] | None:
        """Everyone in the chat, or None where the platform does not let bots list members."""
        ...

    async def is_member(self, *, chat_id: str, user_id: str) -> bool | None:
        """Whether one person is in the chat, or None if that cannot be told."""
        ...


@runtime_checkable
class Relayer(Protocol):
    """Posts, edits and deletes relayed copies of group messages on the adapter's platform.
    Message ids are the platform's own, as the adapter writes them (opaque to the core)."""

    platform: str

    async def post_copy(self, *, chat: ChatRef, copy: Copy, thread: str | None) -> str:
        """Post a copy (in the thread of, or as a reply to, `thread` there); returns its id."""
        ...

    async def edit_copy(self, *, chat: ChatRef, message_id: str, copy: Copy) -> None: ...

    async def delete_copy(self, *, chat: ChatRef, message_id: str) -> None:
        """Delete a copy; one already gone is success."""
        ...
