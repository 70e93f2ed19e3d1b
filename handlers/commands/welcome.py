"""/start, /help and /cancel."""

from __future__ import annotations

from dataclasses import replace

from ccin_bridge.handlers import deep_links, flow, topics
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.introduction import WHAT_I_DO
from ccin_bridge.handlers.membership import find_group
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold


async def start(ctx: Context) -> Reply | list[Reply]:
    """The welcome; with a deep-link payload (handlers/deep_links.py), straight into its flow."""
    if not ctx.args:
        return _welcome(ctx)
    intent = deep_links.parse(ctx.args)
    target = next((c for c in ctx.commands if c.name == intent.command), None) if intent else None
    if intent is None or target is None:
        return _welcome(ctx, note=UNKNOWN_LINK)
    try:
        _check(ctx, intent)
    except UserFacingError as exc:
        return _welcome(ctx, note=f"I could not follow that link. {exc.reason}")
    request = replace(ctx.request, command=target.name, args=intent.args)
    answer = await target.handler(replace(ctx, request=request))
    return [_hello(ctx), *(answer if isinstance(answer, list) else [answer])]


UNKNOWN_LINK = (
    "The link you followed did not lead anywhere I know (it may be old or cut short), "
    "so here is where to start."
)


def _check(ctx: Context, intent: deep_links.Intent) -> None:
    """Refuse a link naming a group or topic that does not exist, before anything is done."""
    if intent.command == deep_links.JOIN:
        find_group(ctx.settings, intent.args)
    elif intent.command == deep_links.SUBSCRIBE:
        topics.find(ctx.settings, intent.args)


def _greeting(ctx: Context) -> ReplyBuilder:
    name = ctx.person.display_name or "there"
    network = ctx.settings.network_name
    return ReplyBuilder().para(f"Hello {name}, welcome to the ", bold(network), " bridge.")


def _hello(ctx: Context) -> Reply:
    return _greeting(ctx).build()


def _welcome(ctx: Context, note: str | None = None) -> Reply:
    builder = _greeting(ctx).para(WHAT_I_DO)
    if note:
        builder.para(note)
    return (
        builder.buttons(Button("Groups", "groups"), Button("Events", "events"))
        .buttons(Button("DPS suppliers", "suppliers"), Button("Help", "help"))
        .build()
    )


async def help_(ctx: Context) -> Reply:
    builder = ReplyBuilder().heading("What I can do")
    items = []
    for cmd in ctx.commands:
        usage = ctx.request.show(cmd.usage or cmd.name)
        items.append((Span(usage, code=True), Span(f" — {cmd.summary}")))
    builder.bullets(items)
    builder.para("Tip: buttons under a message do the same as typing the command.")
    return builder.build()


async def cancel(ctx: Context) -> Reply:
    """End whatever step-by-step flow is in progress (news, broadcast, joining a group)."""
    if not await flow.end_any(ctx):
        return ReplyBuilder().para("There is nothing to cancel.").build()
    return ReplyBuilder().para("Cancelled. Nothing was sent or saved from those steps.").build()


COMMANDS = [
    # Not read-only: a deep link may start a flow or a subscription (handlers/deep_links.py).
    Command("start", "Welcome and what this bot is for", start),
    Command("help", "This list of commands", help_, read_only=True),
    Command("cancel", "Stop the step-by-step flow in progress", cancel, stops_flows=True),
]
