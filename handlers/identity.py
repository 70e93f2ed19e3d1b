"""Typed references to people and chats on a platform, never ad-hoc strings."""

from __future__ import annotations

from dataclasses import dataclass

from ccin_bridge.handlers import platforms

Platform = str  # the name of a registered platform (handlers/platforms.py)


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


def parse_user_key(value: str) -> tuple[str, str]:
    """Parse `PLATFORM:USER_ID` (as used in config and the admin CLI), refusing ids that could
    never match a person's account there; the id comes back as the platform writes it."""
    known = platforms.registered()
    platform, sep, user_id = value.strip().partition(":")
    user_id = user_id.strip()
    if not sep or not user_id:
        example = next((f"{s.name}:{s.example_user_id}" for s in known.values() if s.public), "")
        raise ValueError(f"{value!r} should look like PLATFORM:USER_ID, e.g. {example}")
    spec = known.get(platform)
    if spec is None:
        raise ValueError(f"{value!r}: platform must be one of {', '.join(known)}")
    problem = spec.user_id_problem(user_id)
    if problem:
        raise ValueError(f"{value!r}: {problem}")
    return platform, spec.canonical_user_id(user_id)
