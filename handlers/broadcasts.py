"""Admin broadcasts: one message to an audience's subscribers, queued in the outbox.

An audience's broadcast reaches its digest subscribers except those who opted out of
announcements; `everyone` reaches whoever subscribes to announcements. The chat flow
(handlers/commands/broadcast.py) and the CLI (`ccin-bridge broadcast`) both queue through
`queue`, and the push's creator gets the delivery report when it settles.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers import click_links, reply_codec
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.replies import Button, Paragraph, Reply, ReplyBuilder, Span
from ccin_bridge.store import audit, outbox, subscriptions
from ccin_bridge.store.outbox import Target

EVERYONE = "everyone"
KIND = "broadcast"
MAX_TEXT = 3500  # fits one Telegram message (4096) with the heading; Slack splits anyway


def choices(settings: Settings) -> list[tuple[str, str]]:
    """(slug, name) of every audience an admin can broadcast to, `everyone` last."""
    return [(a.slug, a.name) for a in settings.audiences] + [(EVERYONE, "Everyone")]


def find_audience(settings: Settings, given: str) -> str:
    wanted = given.strip().casefold()
    for slug, name in choices(settings):
        if wanted in (slug, name.casefold()):
            return slug
    known = ", ".join(slug for slug, _ in choices(settings))
    raise UserFacingError(f"There is no audience called “{given[:40]}”. Choose one of: {known}.")


def audience_label(settings: Settings, slug: str) -> str:
    return dict(choices(settings)).get(slug, slug)


def check_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise UserFacingError("The broadcast has no text. Please send the message to broadcast.")
    if len(text) > MAX_TEXT:
        raise UserFacingError(
            f"That is {len(text):,} characters; please keep a broadcast under {MAX_TEXT:,}."
        )
    return text


def compose(settings: Settings, audience: str, text: str) -> Reply:
    """The message people get. Blank lines separate paragraphs (the CLI's --file keeps them)."""
    builder = ReplyBuilder().heading(f"Announcement for {audience_label(settings, audience)}")
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    builder.blocks.extend(Paragraph((Span(p),)) for p in paragraphs)
    builder.para(Span(f"From the {settings.network_name} admins.", italic=True))
    builder.buttons(Button("Stop announcements", "unsubscribe announcements"))
    return builder.build()


async def targets(session: AsyncSession, audience: str) -> list[Target]:
    return await subscriptions.broadcast_targets(
        session, None if audience == EVERYONE else audience
    )


def chat_count(found: list[Target]) -> int:
    return len({(t.platform, t.chat_id) for t in found})


@dataclass(frozen=True)
class Queued:
    push_id: int | None  # None: this exact broadcast was queued already (a second press)
    recipients: int


async def queue(
    session: AsyncSession,
    settings: Settings,
    *,
    audience: str,
    text: str,
    created_by: int | None,
    key: str | None = None,
    via: str = "chat",
) -> Queued:
    text = check_text(text)
    found = await targets(session, audience)
    reply = compose(settings, audience, text)
    push_id = await outbox.create_push(
        session,
        kind=KIND,
        payload=reply_codec.encode(reply),
        targets=found,
        key=key,
        audience=audience,
        title=f"Broadcast to {audience_label(settings, audience)}: {text[:60]}",
        created_by=created_by,
    )
    if push_id is not None:
        await click_links.track(
            session,
            settings,
            push_id=push_id,
            reply=reply,
            audience=audience,
            recipients=chat_count(found),
        )
        await audit.record(
            session,
            actor_id=created_by,
            action="broadcast.send",
            push_id=push_id,
            audience=audience,
            recipients=chat_count(found),
            via=via,
        )
    return Queued(push_id, chat_count(found))
