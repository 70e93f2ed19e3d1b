"""/feeds: the calendar feeds the events are kept in step with; `feeds add URL 6h` and
`feeds remove ID` from chat and the web console, as `ccin-bridge import events URL --every 6h`
subscribes (the calendar-feed job fetches what is due)."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers.config import parse_every
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic
from ccin_bridge.store import audit, feed_list
from ccin_bridge.store.feed_list import FeedRow

SUBSCRIBED, UNSUBSCRIBED = "feed.subscribe", "feed.unsubscribe"
MAX_URL = 1000  # feed_list.url
USAGE = "feeds add URL 6h"


def every_text(minutes: int) -> str:
    """Minutes as `--every` takes them: 1d, 6h, 30m."""
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def _local(host: str) -> bool:
    """A host name or address that is plainly this machine or a private network. Only what
    the name itself says: a public-looking name that resolves to one is refused when it is
    fetched (scheduler/feed_fetch.py checks every address it connects to)."""
    host = host.casefold().rstrip(".")
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global


def checked_url(url: str, *, allow_private: bool = False) -> str:
    """A feed's address as given, if it is one the feed job can fetch."""
    url = url.strip()
    parts = urlsplit(url)
    try:
        host = parts.hostname or ""
    except ValueError:
        host = ""
    if parts.scheme.casefold() not in ("http", "https", "webcal") or not host:
        raise UserFacingError(
            f"{url[:80]!r} is not a web address such as https://example.org/meetings.ics"
        )
    if len(url) > MAX_URL:
        raise UserFacingError(f"That address is too long (at most {MAX_URL} characters).")
    if not allow_private and _local(host):
        raise UserFacingError(
            f"{url[:80]!r} is a private or local address, which feeds are not fetched from "
            "(config `calendar_feeds.allow_private_addresses` allows them); nothing changed."
        )
    return url


async def add_feed(
    session: AsyncSession,
    url: str,
    every: str,
    *,
    actor_id: int | None,
    allow_private: bool = False,
) -> int:
    """Subscribe to `url`, fetched every `every` (`6h`), audited; the feed's id."""
    url = checked_url(url, allow_private=allow_private)
    try:
        minutes = parse_every(every)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from None
    feed_id = await feed_list.subscribe(session, url, minutes)
    await audit.record(
        session,
        actor_id=actor_id,
        action=SUBSCRIBED,
        feed=feed_id,
        url=url,
        every=every_text(minutes),
    )
    return feed_id


async def feeds(ctx: Context) -> Reply:
    words = ctx.args.split()
    what = words[0].casefold() if words else "list"
    if what == "list" and len(words) <= 1:
        return await _listing(ctx)
    if what == "add" and len(words) in (2, 3):
        every = words[2] if len(words) == 3 else "6h"
        feed_id = await add_feed(
            ctx.session,
            words[1],
            every,
            actor_id=ctx.person.id,
            allow_private=ctx.settings.calendar_feeds.allow_private_addresses,
        )
        minutes = ctx.settings.calendar_feeds.check_minutes
        return (
            ReplyBuilder()
            .para(
                f"Subscribed to feed #{feed_id}: it is fetched within {minutes} minutes, then "
                f"every {every_text(parse_every(every))}; its events appear in ",
                Span(ctx.request.show("events")),
                ".",
            )
            .build(private=True)
        )
    if what == "remove" and len(words) == 2:
        return await _remove(ctx, words[1])
    raise UserFacingError(
        f"Try {ctx.request.show('feeds')}, {ctx.request.show(USAGE)} or "
        f"{ctx.request.show('feeds remove ID')}."
    )


async def _remove(ctx: Context, value: str) -> Reply:
    number = value.removeprefix("#")
    rows = {row.id: row for row in await feed_list.feeds(ctx.session)}
    # isdigit alone takes "²" and other digits int() refuses.
    row = rows.get(int(number)) if number.isascii() and number.isdigit() else None
    if row is None:
        raise UserFacingError(f"There is no feed {value[:20]!r}. See {ctx.request.show('feeds')}.")
    if row.url in _configured(ctx):
        raise UserFacingError(
            f"Feed #{row.id} is in config.yaml (`calendar_feeds`): take it out there; "
            "nothing changed."
        )
    await feed_list.unsubscribe(ctx.session, row.id)
    await audit.record(
        ctx.session, actor_id=ctx.person.id, action=UNSUBSCRIBED, feed=row.id, url=row.url
    )
    return (
        ReplyBuilder()
        .para(
            f"Feed #{row.id} is no longer followed. Its {row.events} events stay as they are."
            if row.events != 1
            else f"Feed #{row.id} is no longer followed. Its event stays as it is."
        )
        .build(private=True)
    )


def _configured(ctx: Context) -> set[str]:
    return {feed.url for feed in ctx.settings.calendar_feeds.feeds}


async def _listing(ctx: Context) -> Reply:
    rows = await feed_list.feeds(ctx.session)
    builder = ReplyBuilder().heading(f"Calendar feeds ({len(rows)})")
    if not rows:
        builder.para("No calendar feeds are followed.")
    configured = _configured(ctx)
    builder.bullets([_line(ctx, row, row.url in configured) for row in rows])
    for row in rows:
        if row.url not in configured:
            builder.buttons(Button(f"Remove feed #{row.id}", f"feeds remove {row.id}", "decline"))
    builder.para(italic(f"Add one with {ctx.request.show(USAGE)} (at most every 15m)."))
    return builder.build(private=True)


def _line(ctx: Context, row: FeedRow, configured: bool) -> tuple[Span, ...]:
    every = f"every {every_text(row.every_minutes)}" if row.every_minutes else "by hand only"
    parts = [every + (", in config" if configured else ""), f"{row.events} events"]
    if row.checked_at is None:
        parts.append("not fetched yet")
    else:
        status = "OK" if row.last_error is None else f"failed: {row.last_error[:200]}"
        parts.append(f"last fetched {_when(ctx, row.checked_at)} ({status})")
    if row.every_minutes:
        due = row.next_due
        parts.append(
            f"next fetch from {_when(ctx, due)}" if due and due > ctx.now else "next fetch: now due"
        )
    return (bold(f"#{row.id} "), Span(row.url), Span(": " + "; ".join(parts)))


def _when(ctx: Context, moment: datetime) -> str:
    return f"{moment.astimezone(ctx.settings.zone):%d %b %Y %H:%M}"


COMMANDS = [
    Command(
        "feeds",
        "Calendar feeds: add one, remove one, and how each last went",
        feeds,
        usage="feeds | feeds add URL 6h | feeds remove ID",
        admin_only=True,
        aliases=("feed",),
    ),
]
