"""How the bot introduces itself before anyone types: its description, its short description
and the command menus for private chats and for groups.

The adapters publish these where their platform shows them (Telegram: setMyDescription,
setMyShortDescription, setMyCommands per scope); the words are the bridge's, the same on
every platform.
"""

from __future__ import annotations

from collections.abc import Iterable

from ccin_bridge.handlers import platforms
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Command

# What the bridge is for, in the welcome and in the description alike.
WHAT_I_DO = (
    "Join the officers', leaders' and champions' groups, hear about events and the monthly "
    "newsletter, and search case studies, funded projects and DPS suppliers without leaving "
    "the chat."
)
# The most any platform shows (Telegram's limits, the tightest the bridge serves).
DESCRIPTION_MAX, SHORT_DESCRIPTION_MAX = 512, 120
# Commands that make sense typed in a group's chat: answers everyone there can use. Anything
# personal (joining, subscriptions, your data) belongs in a private chat with the bot.
GROUP_COMMANDS = ("events", "search", "suppliers", "ics", "help")


def description(settings: Settings, platform: str) -> str:
    """Shown in an empty chat with the bot, before the person first writes to it."""
    prefix = platforms.prefix(platform)
    text = (
        f"The {settings.network_name} bridge. {WHAT_I_DO} Send {prefix}start to begin, and "
        f"{prefix}help at any time for everything I can do."
    )
    return _fit(text, DESCRIPTION_MAX)


def short_description(settings: Settings) -> str:
    """Shown on the bot's profile and beside a shared link to it."""
    limit = SHORT_DESCRIPTION_MAX
    full = f"The {settings.network_name}: its groups, events, newsletter and search, in your chat."
    if len(full) <= limit:
        return full
    return _fit("The network's groups, events, newsletter and search, in your chat.", limit)


def private_menu(commands: Iterable[Command]) -> list[Command]:
    """Everything the person may run, in a private chat."""
    return list(commands)


def group_menu(commands: Iterable[Command]) -> list[Command]:
    """The commands worth offering in a group, in `GROUP_COMMANDS` order."""
    by_name = {c.name: c for c in commands}
    return [by_name[name] for name in GROUP_COMMANDS if name in by_name]


def _fit(text: str, limit: int) -> str:
    """`text`, cut at a word and marked if it is longer than `limit` characters."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
