"""/subscribe and /unsubscribe: monthly digests, event reminders and announcements.

A choice belongs to the person, so it covers every platform they have linked.
"""

from __future__ import annotations

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic
from ccin_bridge.store import subscriptions
from ccin_bridge.store.subscriptions import ANNOUNCEMENTS, REMINDERS, digest_topic


def topics(settings: Settings) -> list[tuple[str, str]]:
    """(topic, what it is) for every topic a person can choose."""
    found = [
        (
            digest_topic(a.slug),
            f"Monthly digest for {a.name}" + (f": {a.description}" if a.description else ""),
        )
        for a in settings.audiences
    ]
    found.append((REMINDERS, "Event reminders before network events and meetings"))
    found.append((ANNOUNCEMENTS, "Announcements from the network's admins"))
    return found


def find_topic(settings: Settings, given: str) -> str:
    """A topic from what someone typed: `digest:officers`, `digest officers`, `officers`."""
    wanted = " ".join(given.casefold().split()).replace("digest ", "digest:")
    known = dict(topics(settings))
    if wanted in known:
        return wanted
    aliases = {"reminder": REMINDERS, "announcement": ANNOUNCEMENTS}
    if wanted in aliases:
        return aliases[wanted]
    for audience in settings.audiences:
        if wanted in (audience.slug, audience.name.casefold()):
            return digest_topic(audience.slug)
    names = ", ".join(known)
    raise UserFacingError(f"There is no topic called “{given[:40]}”. The topics are: {names}.")


async def overview(ctx: Context, note: str | None = None) -> Reply:
    chosen = await subscriptions.topics_of(ctx.session, ctx.person.id)
    builder = ReplyBuilder()
    if note:
        builder.para(note)
    builder.heading("Your subscriptions")
    items = []
    for topic, about in topics(ctx.settings):
        state = "subscribed" if chosen.get(topic) else "not subscribed"
        items.append((bold(about), Span(" "), italic(f"[{state}]")))
    builder.bullets(items)
    builder.para("They apply to every platform you use with this bot.")
    for topic, _ in topics(ctx.settings):
        label = topic.replace("digest:", "digest ")
        if chosen.get(topic):
            builder.buttons(Button(f"Unsubscribe: {label}", f"unsubscribe {topic}"))
        else:
            builder.buttons(Button(f"Subscribe: {label}", f"subscribe {topic}"))
    return builder.build(private=True)


async def _choose(ctx: Context, wanted: bool) -> Reply:
    if not ctx.args:
        return await overview(ctx)
    topic = find_topic(ctx.settings, ctx.args)
    about = dict(topics(ctx.settings))[topic]
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
