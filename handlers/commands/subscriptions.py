"""/subscribe and /unsubscribe: monthly digests, event reminders and announcements.

A choice belongs to the person, so it covers every platform they have linked.
"""

from __future__ import annotations

from ccin_bridge.handlers import topics
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic
from ccin_bridge.store import subscriptions


async def overview(ctx: Context, note: str | None = None) -> Reply:
    chosen = await subscriptions.topics_of(ctx.session, ctx.person.id)
    builder = ReplyBuilder()
    if note:
        builder.para(note)
    builder.heading("Your subscriptions")
    items = []
    every = topics.every(ctx.settings)
    for topic in every:
        state = "subscribed" if chosen.get(topic) else "not subscribed"
        about = topics.detail(ctx.settings, topic)
        items.append(
            (
                bold(topics.name(ctx.settings, topic)),
                Span(f": {about} " if about else " "),
                italic(f"[{state}]"),
            )
        )
    builder.bullets(items)
    builder.para("They apply to every platform you use with this bot.")
    for topic in every:
        builder.buttons(button(ctx, topic, subscribed=bool(chosen.get(topic))))
    return builder.build(private=True)


def button(ctx: Context, topic: str, *, subscribed: bool) -> Button:
    """The one button that changes a topic, worded the same in /subscribe and /home."""
    label = topics.name(ctx.settings, topic)
    if subscribed:
        return Button(f"Unsubscribe: {label}", f"unsubscribe {topic}")
    return Button(f"Subscribe: {label}", f"subscribe {topic}")


async def _choose(ctx: Context, wanted: bool) -> Reply:
    if not ctx.args:
        return await overview(ctx)
    topic = topics.find(ctx.settings, ctx.args)
    about = topics.name(ctx.settings, topic)
    changed = await subscriptions.set_wanted(ctx.session, ctx.person.id, topic, wanted)
    if wanted:
        note = f"You are {'now' if changed else 'already'} subscribed to: {about}."
    else:
        note = f"You {'will no longer' if changed else 'were not set to'} get: {about}."
    return await overview(ctx, note)


async def subscribe(ctx: Context) -> Reply:
    return await _choose(ctx, True)


async def unsubscribe(ctx: Context) -> Reply:
    return await _choose(ctx, False)


COMMANDS = [
    Command(
        "subscribe",
        "Get the monthly digest, event reminders or announcements",
        subscribe,
        usage="subscribe [topic]",
    ),
    Command(
        "unsubscribe",
        "Stop a digest, event reminders or announcements",
        unsubscribe,
        usage="unsubscribe [topic]",
    ),
]
