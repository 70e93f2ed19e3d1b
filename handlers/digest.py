"""The monthly digest: composed per audience, queued once per edition.

An edition is a month. Its push key (`digest:officers:2026-12`) is what makes it go out once:
the scheduled job for December and an admin's early `digest send` in late November both use
the December key, so whichever comes second sends nothing.

The digest is one reply (headings, short items, "read more" links and buttons); each adapter
splits it into as many messages as its platform needs. "Since the last digest" compares store
times (when a push was queued, when news was approved); `now`, the bridge's clock, picks the
edition and the six-week window of events.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers import click_links, reply_codec
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.dates import Occurrence, clock_time, long_date, upcoming
from ccin_bridge.handlers.dps import dps_summary
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic, link
from ccin_bridge.store import audiences, digest_data, news, outbox, subscriptions

DIGEST_KIND = digest_data.DIGEST_KIND
WEEKS_AHEAD = 6
MAX_EVENTS = 10
MAX_NEW = 5  # case studies and projects listed; the rest are counted
SUMMARY_CHARS = 220
MAX_SUPPLIER_NAMES = 10  # suppliers added since the last digest, named; the rest counted
DPS_NOTICE_DAYS = 365  # from a year before the DPS ends, the digest counts down to it


# --- editions --------------------------------------------------------------------------------


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def edition_moment(settings: Settings, edition: date) -> datetime:
    """When an edition is scheduled: digest_day at digest_time, network time."""
    day = edition.replace(day=settings.schedules.digest_day)
    return datetime.combine(day, settings.schedules.digest_time, tzinfo=settings.zone)


def scheduled_edition(settings: Settings, now: datetime) -> date:
    """The edition a scheduled run at `now` sends: the latest one due by now."""
    this = now.astimezone(settings.zone).date().replace(day=1)
    return this if now >= edition_moment(settings, this) else add_months(this, -1)


def next_edition(settings: Settings, now: datetime) -> date:
    """The edition an early send at `now` sends: the next one not yet due."""
    return add_months(scheduled_edition(settings, now), 1)


def digest_key(audience: str, edition: date) -> str:
    return f"digest:{audience}:{edition:%Y-%m}"


def month_name(edition: date) -> str:
    return f"{edition:%B %Y}"


def audience_name(settings: Settings, slug: str) -> str:
    found = next((a for a in settings.audiences if a.slug == slug), None)
    return found.name if found is not None else slug


def find_audience(settings: Settings, given: str) -> str:
    """An audience slug from what an admin typed (slug or name, any case)."""
    wanted = given.strip().casefold().removeprefix("digest:")
    for audience in settings.audiences:
        if wanted in (audience.slug, audience.name.casefold()):
            return audience.slug
    known = ", ".join(a.slug for a in settings.audiences) or "none configured"
    raise UserFacingError(
        f"There is no audience called “{given[:40]}”. The audiences are: {known}."
    )


async def sent_push_id(session: AsyncSession, audience: str, edition: date) -> int | None:
    """The push of this audience's edition, if it was queued already."""
    return await outbox.push_id_for_key(session, digest_key(audience, edition))


# --- composing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    audience: str
    edition: date
    reply: Reply
    news_ids: tuple[int, ...]


def _short(value: str, width: int = SUMMARY_CHARS) -> str:
    return textwrap.shorten(value, width=width, placeholder="…") if value else ""


def _event_line(occurrence: Occurrence) -> tuple[Span, ...]:
    event = occurrence.event
    when = long_date(occurrence.on)
    if occurrence.at is not None:
        when += f", {clock_time(occurrence.at)}"
    spans: list[Span] = [bold(when), Span(" — ")]
    spans.append(link(event.title, event.url) if event.url else Span(event.title))
    where = "online" if event.online else event.location
    if where:
        spans.append(italic(f" ({where})"))
    return tuple(spans)


async def compose(
    session: AsyncSession, settings: Settings, audience: str, *, now: datetime, edition: date
) -> Digest:
    """The digest this audience would get for `edition` if it were sent now."""
    previous = edition_moment(settings, add_months(edition, -1)).astimezone(UTC)
    data = await digest_data.gather(session, audience, added_since=previous, limit=MAX_NEW)
    today = now.astimezone(settings.zone).date()
    # The edition's six weeks, from the day it is due (a January preview in December lists
    # January's meetings, not December's), or from today for one sent late.
    since = max(today, edition_moment(settings, edition).date())
    horizon = since + timedelta(weeks=WEEKS_AHEAD)
    coming = upcoming(list(data.events), since, per_series=WEEKS_AHEAD + 1)
    coming = [o for o in coming if o.on <= horizon][:MAX_EVENTS]

    builder = ReplyBuilder().heading(
        f"{month_name(edition)} digest for {audience_name(settings, audience)}"
    )
    builder.para(italic(f"News and what's coming up in the {settings.network_name}."))

    builder.heading("News")
    if data.news:
        items = []
        for item in data.news:
            line: list[Span] = [bold(item.title)]
            if item.body:
                line.append(Span(" — " + _short(item.body)))
            if item.url:
                line += [Span(" "), link("Read more", item.url)]
            items.append(tuple(line))
        builder.bullets(items)
    else:
        builder.para("No news was sent in this month. Share yours for the next digest.")

    builder.heading(f"Coming up in the next {WEEKS_AHEAD} weeks")
    if coming:
        builder.bullets([_event_line(o) for o in coming])
    else:
        builder.para("No events are announced for the next six weeks yet.")

    for title, shown, total in (
        ("New case studies", data.case_studies, data.case_studies_total),
        ("New funded projects", data.projects, data.projects_total),
    ):
        if not shown:
            continue
        builder.heading(title)
        builder.bullets(
            [
                (
                    link(n.title, n.url) if n.url else bold(n.title),
                    Span(f" ({n.detail})" if n.detail else ""),
                )
                for n in shown
            ]
        )
        if total > len(shown):
            builder.para(italic(f"…and {total - len(shown)} more: use Search to find them."))

    if data.dps is not None or data.new_suppliers:
        builder.heading("Dynamic Purchasing System")
    if data.dps is not None:
        builder.para(dps_summary(data.dps, today.isoformat()))
        days_left = (data.dps.ends_on - today).days
        if 0 <= days_left <= DPS_NOTICE_DAYS:
            builder.para(
                bold(f"The DPS ends on {long_date(data.dps.ends_on)}, in {days_left} days.")
            )
    if data.new_suppliers:
        names = ", ".join(data.new_suppliers[:MAX_SUPPLIER_NAMES])
        more = len(data.new_suppliers) - MAX_SUPPLIER_NAMES
        builder.para(
            Span("New on the supplier list: "),
            bold(names),
            Span(f" and {more} more." if more > 0 else "."),
        )

    builder.buttons(Button("Send your news", "news"), Button("All events", "events"))
    builder.buttons(
        Button("DPS suppliers", "suppliers"),
        Button("Unsubscribe", f"unsubscribe {subscriptions.digest_topic(audience)}"),
    )
    return Digest(audience, edition, builder.build(), tuple(n.id for n in data.news))


# --- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    push_id: int | None  # None: this edition had been sent already
    audience: str
    edition: date
    recipients: int


async def send(
    session: AsyncSession,
    settings: Settings,
    audience: str,
    *,
    now: datetime,
    edition: date,
    created_by: int | None = None,
) -> Sent:
    """Queue one audience's edition, once; the news it carries is marked digested."""
    if await sent_push_id(session, audience, edition) is not None:
        return Sent(None, audience, edition, 0)
    digest = await compose(session, settings, audience, now=now, edition=edition)
    targets = await audiences.topic_targets(session, subscriptions.digest_topic(audience))
    push_id = await outbox.create_push(
        session,
        kind=DIGEST_KIND,
        payload=reply_codec.encode(digest.reply),
        targets=targets,
        key=digest_key(audience, edition),
        audience=audience,
        title=f"{month_name(edition)} digest for {audience_name(settings, audience)}",
        created_by=created_by,
    )
    if push_id is None:  # another process queued it between our check and insert
        return Sent(None, audience, edition, 0)
    chats = len({(t.platform, t.chat_id) for t in targets})
    await click_links.track(
        session, settings, push_id=push_id, reply=digest.reply, audience=audience, recipients=chats
    )
    await news.mark_digested(session, digest.news_ids)
    return Sent(push_id, audience, edition, chats)


# --- the news reminder -------------------------------------------------------------------------


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def news_reminder(settings: Settings, now: datetime) -> Reply:
    """“Send your news by the 24th”, naming the edition it is for."""
    today = now.astimezone(settings.zone).date()
    deadline_day = settings.schedules.news_deadline_day
    month = today.replace(day=1) if today.day <= deadline_day else add_months(today, 1)
    deadline = month.replace(day=deadline_day)
    edition = next_edition(settings, datetime.combine(deadline, time(12), tzinfo=settings.zone))
    return (
        ReplyBuilder()
        .heading("Send your news for the monthly digest")
        .para(
            "Please send your news by the ",
            bold(f"{ordinal(deadline_day)} ({long_date(deadline)})"),
            f" for the {month_name(edition)} digest: a title, a few sentences and a link.",
        )
        .para("Admins check each item before it goes out.")
        .buttons(Button("Send news", "news"))
        .build()
    )


def reminder_key(settings: Settings, now: datetime) -> str:
    return f"news-reminder:{now.astimezone(settings.zone):%Y-%m}"


async def send_news_reminder(session: AsyncSession, settings: Settings, *, now: datetime) -> Sent:
    """Queue this month's news reminder once, to everyone who takes any digest."""
    slugs = [a.slug for a in settings.audiences]
    targets = await subscriptions.digest_targets(session, slugs)
    push_id = await outbox.create_push(
        session,
        kind="news-reminder",
        payload=reply_codec.encode(news_reminder(settings, now)),
        targets=targets,
        key=reminder_key(settings, now),
        title="Send your news for the digest",
    )
    edition = next_edition(settings, now)
    return Sent(
        push_id, "", edition, len({(t.platform, t.chat_id) for t in targets}) if push_id else 0
    )
