"""Every command the bridge answers, gathered for `Bridge`."""

from __future__ import annotations

from ccin_bridge.handlers.commands import (
    admin,
    admins,
    directory,
    events,
    feeds,
    group_admin,
    groups,
    home,
    link,
    principles,
    privacy,
    search,
    welcome,
)
from ccin_bridge.handlers.commands import broadcast as broadcast_commands
from ccin_bridge.handlers.commands import calendar as calendar_commands
from ccin_bridge.handlers.commands import digest as digest_commands
from ccin_bridge.handlers.commands import news as news_commands
from ccin_bridge.handlers.commands import subscriptions as subscription_commands
from ccin_bridge.handlers.core import Command


def all_commands() -> list[Command]:
    return [
        *welcome.COMMANDS,
        *groups.COMMANDS,
        *search.COMMANDS,
        *principles.COMMANDS,
        *directory.COMMANDS,
        *events.COMMANDS,
        *calendar_commands.COMMANDS,
        *privacy.COMMANDS,
        *admin.COMMANDS,
        *admins.COMMANDS,
        *feeds.COMMANDS,
        *group_admin.COMMANDS,
        *link.COMMANDS,
        *home.COMMANDS,
        *subscription_commands.COMMANDS,
        *news_commands.COMMANDS,
        *digest_commands.COMMANDS,
        *broadcast_commands.COMMANDS,
    ]
