"""Every command the bridge answers, gathered for `Bridge`."""

from __future__ import annotations

from handlers.commands import directory, events, groups, privacy, search, welcome
from handlers.core import Command


def all_commands() -> list[Command]:
    return [
        *welcome.COMMANDS,
        *groups.COMMANDS,
        *search.COMMANDS,
        *directory.COMMANDS,
        *events.COMMANDS,
        *privacy.COMMANDS,
    ]
