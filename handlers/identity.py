"""Typed references to people and chats on a platform, never ad-hoc strings."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

Platform = Literal["telegram", "slack", "terminal"]
PLATFORMS: tuple[str, ...] = get_args(Platform)


@dataclass(frozen=True)
class UserRef:
    """A person's account on one platform."""

    platform: Platform
    user_id: str
    display_name: str = ""
    username: str | None = None

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True)
class ChatRef:
    """Where a message came from or goes to: a direct chat or a group channel."""

    platform: Platform
    chat_id: str
    is_private: bool = True


def parse_user_key(value: str) -> tuple[Platform, str]:
    """Parse `PLATFORM:USER_ID` (as used in config and the admin CLI), refusing ids that could
    never match a person's account there; the id comes back as the platform writes it."""
    platform, sep, user_id = value.strip().partition(":")
    user_id = user_id.strip()
    if not sep or not user_id:
        raise ValueError(f"{value!r} should look like PLATFORM:USER_ID, e.g. telegram:123456")
    if platform not in PLATFORMS:
        raise ValueError(f"{value!r}: platform must be one of {', '.join(PLATFORMS)}")
    problem = _USER_ID_PROBLEMS[platform](user_id)
    if problem:
        raise ValueError(f"{value!r}: {problem}")
    if platform == "telegram":
        user_id = str(int(user_id))  # "0123" is the account 123
    return platform, user_id  # type: ignore[return-value]


def _telegram_problem(user_id: str) -> str | None:
    if _TELEGRAM_ID.fullmatch(user_id) and int(user_id) > 0:
        return None
    if user_id.startswith("@"):
        why = "a @handle is not an id"
    elif user_id.startswith("-") and _TELEGRAM_ID.fullmatch(user_id[1:]):
        why = "negative ids are group chats, not people"
    elif any(ch.isspace() for ch in user_id):
        why = "ids have no spaces"
    else:
        why = "ids are positive whole numbers"
    return f"Telegram user ids are numbers such as 123456789: {why}"


def _slack_problem(user_id: str) -> str | None:
    if _SLACK_ID.fullmatch(user_id):
        return None
    if user_id != user_id.upper():
        return "Slack user ids look like U012ABCDEF; lower-case is a handle or a typo"
    return "Slack user ids look like U012ABCDEF (U or W, then capitals and digits)"


def _terminal_problem(user_id: str) -> str | None:
    return "terminal ids have no spaces" if any(ch.isspace() for ch in user_id) else None


# ASCII only: str.isdigit() also takes "²" and other digits no platform uses.
_TELEGRAM_ID = re.compile(r"[0-9]+")
_SLACK_ID = re.compile(r"[UW][A-Z0-9]+")
_USER_ID_PROBLEMS: dict[str, Callable[[str], str | None]] = {
    "telegram": _telegram_problem,
    "slack": _slack_problem,
    "terminal": _terminal_problem,
}
