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
from ccin_bridge.store import facets, subscriptions
from ccin_bridge.store import groups as store_groups

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


# What /home says search finds, by kind: only the kinds the index holds are named.
SEARCHABLE = {
    "case_study": "case studies",
    "project": "funded projects",
    "publication": "publications",
    "resource": "the network's guides and training",
    "supplier": "DPS suppliers",
    "member": "member organisations",
}


async def _search(ctx: Context) -> Reply:
    kinds = [SEARCHABLE[k] for k in (await facets.in_use(ctx.session)).kinds if k in SEARCHABLE]
    builder = ReplyBuilder().heading("Search the network")
    if kinds:
        what = groups.and_list(kinds)
        builder.para(
            what[:1].upper() + what[1:] + ": ", Span(ctx.request.show("search WORDS"), code=True)
        )
    else:
        builder.para("Nothing is loaded to search yet.")
    return builder.buttons(
        Button("Search", "search"),
        Button("DPS suppliers", "suppliers"),
        Button("Help", "help"),
    ).build()


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
        await _search(ctx),
    ]
    if ctx.is_admin:
        parts.append(await _admin(ctx))
    return parts


COMMANDS = [Command("home", "Your groups, subscriptions and upcoming events", home, read_only=True)]
