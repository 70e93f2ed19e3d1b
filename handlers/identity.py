"""Typed references to people and chats on a platform, never ad-hoc strings."""

from __future__ import annotations

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
    """Parse `PLATFORM:USER_ID` (as used in config and the admin CLI)."""
    platform, sep, user_id = value.partition(":")
    if not sep or not user_id.strip():
        raise ValueError(f"{value!r} should look like PLATFORM:USER_ID, e.g. telegram:123456")
    if platform not in PLATFORMS:
        raise ValueError(f"{value!r}: platform must be one of {', '.join(PLATFORMS)}")
    return platform, user_id.strip()  # type: ignore[return-value]
