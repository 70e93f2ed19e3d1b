"""/home: one person's overview — their groups, subscriptions, upcoming events, and for admins
the join requests waiting. Slack shows it as the App Home tab; elsewhere it is a few messages.

Each part reuses the command that owns it (groups, events) so the overview never disagrees
with what those commands say.
"""

from __future__ import annotations

from ccin_bridge.handlers import topics
from ccin_bridge.handlers.commands import events, groups
from ccin_bridge.handlers.commands import subscriptions as subscription_commands
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic
from ccin_bridge.store import groups as store_groups
from ccin_bridge.store import subscriptions

FIXED_TOPICS = (subscriptions.ANNOUNCEMENTS, subscriptions.REMINDERS)


async def _subscriptions(ctx: Context) -> Reply:
    chosen = await subscriptions.topics_of(ctx.session, ctx.person.id)
    shown = [*FIXED_TOPICS, *(t for t in chosen if t not in FIXED_TOPICS)]
    builder = ReplyBuilder().heading("Your subscriptions")
    builder.bullets(
        [
            (
                bold(topics.name(ctx.settings, t)),
                italic(" — subscribed" if chosen.get(t) else " — not subscribed"),
            )
            for t in shown
        ]
    )
    for topic in shown:
        builder.buttons(
            subscription_commands.button(ctx, topic, subscribed=bool(chosen.get(topic)))
        )
    return builder.build()


def _search(ctx: Context) -> Reply:
    return (
        ReplyBuilder()
        .heading("Search the network")
        .para(
            "Case studies, funded projects, members and DPS suppliers: ",
            Span(ctx.request.show("search WORDS"), code=True),
        )
        .buttons(
            Button("Search", "search"),
            Button("DPS suppliers", "suppliers"),
            Button("Help", "help"),
        )
        .build()
    )


async def _admin(ctx: Context) -> Reply:
    waiting = len(await store_groups.pending_requests(ctx.session))
    builder = ReplyBuilder().heading("For admins")
    if waiting:
        noun = "request" if waiting == 1 else "requests"
        builder.para(bold(f"{waiting} join {noun}"), " waiting for approval.")
        builder.buttons(Button("Review join requests", "pending"))
    else:
        builder.para("No join requests are waiting for approval.")
    return builder.build()


async def home(ctx: Context) -> list[Reply]:
    name = ctx.person.display_name or "there"
    welcome = (
        ReplyBuilder()
        .heading(ctx.settings.network_name)
        .para(f"Hello {name}. Your groups, subscriptions and the events coming up.")
        .build()
    )
    parts = [
        welcome,
        await groups.list_groups(ctx),
        await _subscriptions(ctx),
        await events.events(ctx),
        _search(ctx),
    ]
    if ctx.is_admin:
        parts.append(await _admin(ctx))
    return parts


COMMANDS = [Command("home", "Your groups, subscriptions and upcoming events", home, read_only=True)]
