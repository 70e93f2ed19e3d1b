"""/start, /help and /cancel."""

from __future__ import annotations

from ccin_bridge.handlers import flow
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold


async def start(ctx: Context) -> Reply:
    name = ctx.person.display_name or "there"
    network = ctx.settings.network_name
    return (
        ReplyBuilder()
        .para(f"Hello {name}, welcome to the ", bold(network), " bridge.")
        .para(
            "Join the officers', leaders' and champions' groups, hear about events and the "
            "monthly newsletter, and search case studies, funded projects and DPS suppliers "
            "without leaving the chat."
        )
        .buttons(Button("Groups", "groups"), Button("Events", "events"))
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
    Command("start", "Welcome and what this bot is for", start, read_only=True),
    Command("help", "This list of commands", help_, read_only=True),
    Command("cancel", "Stop the step-by-step flow in progress", cancel, stops_flows=True),
]
