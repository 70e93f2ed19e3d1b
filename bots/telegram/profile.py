"""The bot's profile on Telegram: description, short description and command menus.

Published at start-up from the platform-neutral texts (handlers/introduction.py). All of it is a
convenience, so no failure here stops the bot: a refusal (403), a flood limit (429) or a slow
server (timeout) is logged in one line and start-up carries on. These calls are made once, with
no retry (`ONCE`): waiting out a long flood limit would hold every other request back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any

from telegram import BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats
from telegram.error import RetryAfter, TelegramError, TimedOut
from telegram.ext import AIORateLimiter, ExtBot

from ccin_bridge.bots.telegram.refs import PLATFORM
from ccin_bridge.handlers import introduction
from ccin_bridge.handlers.core import Bridge, Command

log = logging.getLogger(__name__)

Answer = bool | dict[str, Any] | list[dict[str, Any]]  # what the Bot API answers, decoded
ONCE = -1  # `rate_limit_args` for a call tried once, with no retry (see `RateLimiter`)
MAX_COMMANDS = 100  # Telegram's limit per list


class RateLimiter(AIORateLimiter):
    """PTB's limiter, except that `rate_limit_args=ONCE` means one try and no retries. (PTB
    has no way to ask for that: it drops a 0 before the limiter sees it, and its retries
    block every request until Telegram's wait is over.)"""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Answer]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Answer:
        if rate_limit_args == ONCE:
            return await callback(*args, **kwargs)
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )


def menu(commands: Sequence[Command]) -> list[BotCommand]:
    return [
        BotCommand(c.name, c.summary[:256] or c.name)  # Telegram refuses an empty one
        for c in commands
    ][:MAX_COMMANDS]


async def publish(bot: ExtBot[int], bridge: Bridge) -> None:
    """Set the description, the short description and the menus for private chats and for
    groups; each part on its own, so one that fails leaves the others."""
    settings = bridge.settings
    everyone = bridge.visible_commands(is_admin=False)
    await _try(
        "set the bot's description",
        _description(bot, introduction.description(settings, PLATFORM)),
    )
    await _try(
        "set the bot's short description",
        _short_description(bot, introduction.short_description(settings)),
    )
    await _try(
        "publish the command list for private chats",
        bot.set_my_commands(
            menu(introduction.private_menu(everyone)),
            scope=BotCommandScopeAllPrivateChats(),
            rate_limit_args=ONCE,
        ),
    )
    await _try(
        "publish the command list for groups",
        bot.set_my_commands(
            menu(introduction.group_menu(everyone)),
            scope=BotCommandScopeAllGroupChats(),
            rate_limit_args=ONCE,
        ),
    )


async def _description(bot: ExtBot[int], text: str) -> None:
    # Set only when it changed: Telegram allows few changes of a bot's profile.
    current = await bot.get_my_description(rate_limit_args=ONCE)
    if current.description != text:
        await bot.set_my_description(text, rate_limit_args=ONCE)


async def _short_description(bot: ExtBot[int], text: str) -> None:
    current = await bot.get_my_short_description(rate_limit_args=ONCE)
    if current.short_description != text:
        await bot.set_my_short_description(text, rate_limit_args=ONCE)


async def _try(what: str, call: Awaitable[Any]) -> bool:
    try:
        await call
    except Exception as exc:  # any failure: the bot works without its profile
        log.warning("Telegram: could not %s (%s); starting without it", what, _why(exc))
        return False
    return True


def _why(exc: Exception) -> str:
    if isinstance(exc, RetryAfter):
        wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else wait
        return f"too many requests, retry after {seconds:g} s"
    if isinstance(exc, TimedOut):
        return "no answer in time"
    if isinstance(exc, TelegramError):
        return str(exc.message)[:160]
    return type(exc).__name__
