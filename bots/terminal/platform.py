"""What the core knows of the terminal chat (the registry's entry)."""

from __future__ import annotations

from ccin_bridge.handlers.platforms import PlatformSpec


def user_id_problem(user_id: str) -> str | None:
    return "terminal ids have no spaces" if any(ch.isspace() for ch in user_id) else None


PLATFORM = PlatformSpec(
    name="terminal",
    label="terminal",
    public=False,  # a chat on the server itself, not a platform people reach over the network
    user_id_problem=user_id_problem,
    example_user_id="ada",
)
