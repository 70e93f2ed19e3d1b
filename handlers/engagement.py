"""The console's Engagement charts as numbers: each a table (rows, and a series of values
per column) that the console draws as SVG, shows as a table and offers as CSV.

Members per group and platform over time are derived (store/engagement.py keeps no history
of its own): a membership starts at its join or approval in the audit log and ends at a
leave or removal there; one with no join logged (made before the log, or imported) starts
when its row was made, and one that ended without a logged leave ends when its row last
changed. A person counts on each platform they have an account on now (history of linking
is not kept), and people who were erased are in no count, past or present.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers import broadcasts, click_links, digest
from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.platforms import label as display_name
from ccin_bridge.handlers.plural import plural
from ccin_bridge.store import clicks, engagement
from ccin_bridge.store.engagement import Change, Decision, MembershipRow

MONTHS = 12  # months shown on the charts over time, this one the last
PUSHES = 12  # digests and broadcasts shown, newest first
LINKS = 15  # the links followed most
ACTIVE = "active"
# Approval times, by how long a request waited for its decision.
WAITS: tuple[tuple[str, timedelta], ...] = (
    ("Under an hour", timedelta(hours=1)),
    ("1 to 24 hours", timedelta(days=1)),
    ("1 to 3 days", timedelta(days=3)),
    ("3 to 7 days", timedelta(days=7)),
    ("Over a week", timedelta.max),
)


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[int, ...]
    panel: str = ""  # charts of several panels (one per group) draw each apart


@dataclass(frozen=True)
class Chart:
    slug: str  # its CSV's name and the page's anchor
    title: str
    summary: str  # what it shows, in a sentence with its main figure
    kind: Literal["bars", "lines"]
    label: str  # what a row is: "Month", "Audience"
    rows: tuple[str, ...]
    series: tuple[Series, ...]
    note: str = ""  # what the numbers cannot say

    @property
    def empty(self) -> bool:
        return not any(v for s in self.series for v in s.values)

    def table(self) -> list[list[str]]:
        """Header and rows, as the page's table and the CSV have them."""
        header = [self.label, *(f"{s.panel}: {s.name}" if s.panel else s.name for s in self.series)]
        body = [[row, *(str(s.values[i]) for s in self.series)] for i, row in enumerate(self.rows)]
        return [header, *body]


def _months(settings: Settings, now: datetime) -> list[date]:
    this = now.astimezone(settings.zone).date().replace(day=1)
    return [digest.add_months(this, n) for n in range(1 - MONTHS, 1)]


def _month_end(settings: Settings, month: date, now: datetime) -> datetime:
    start = datetime.combine(digest.add_months(month, 1), time(0), settings.zone)
    return min(start, now)


def _label(month: date) -> str:
    return f"{month:%b %Y}"


def spans(
    rows: Sequence[MembershipRow], changes: Sequence[Change]
) -> dict[tuple[int, str], list[tuple[datetime, datetime | None]]]:
    """When each person was a member of each group: (start, end or None) spans."""
    history: dict[tuple[int, str], list[Change]] = {}
    for change in changes:
        history.setdefault((change.person_id, change.group), []).append(change)
    found: dict[tuple[int, str], list[tuple[datetime, datetime | None]]] = {}
    for row in rows:
        key = (row.person_id, row.group)
        closed: list[tuple[datetime, datetime | None]] = []
        start: datetime | None = None
        for change in history.get(key, []):
            if change.joined and start is None:
                start = change.at
            elif not change.joined and start is not None:
                closed.append((start, change.at))
                start = None
        active = row.status == ACTIVE
        if active and start is None:  # a member with no join logged: since its row
            start = row.created_at if not closed else row.updated_at
        if not active and start is not None:  # ended without a leave logged
            closed.append((start, row.updated_at))
            start = None
        if start is not None:
            closed.append((start, None))
        if closed:
            found[key] = closed
    return found


SLUGS = ("members", "joins-leaves", "subscribers", "pushes", "links", "approval-times")


async def charts(
    session: AsyncSession, settings: Settings, now: datetime, slugs: Collection[str] = SLUGS
) -> list[Chart]:
    """The charts named (all of them by default), in the page's order: a CSV download reads
    only what its own chart needs."""
    found: list[Chart] = []
    months = _months(settings, now)
    periods: dict[tuple[int, str], list[tuple[datetime, datetime | None]]] = {}
    if {"members", "joins-leaves"} & set(slugs):
        members = await engagement.memberships(session)
        periods = spans(members, await engagement.membership_changes(session))
    for slug in (s for s in SLUGS if s in slugs):
        if slug == "members":
            platforms = await engagement.platforms_of_people(session)
            found.append(members_over_time(settings, periods, platforms, months, now))
        elif slug == "joins-leaves":
            found.append(joins_and_leaves(settings, periods, months))
        elif slug == "subscribers":
            found.append(await _subscribers(session, settings))
        elif slug == "pushes":
            found.append(await _pushes(session))
        elif slug == "links":
            found.append(await _links(session))
        else:
            found.append(approval_times(await engagement.decisions(session)))
    return found


def members_over_time(
    settings: Settings,
    periods: dict[tuple[int, str], list[tuple[datetime, datetime | None]]],
    platforms: dict[int, set[str]],
    months: list[date],
    now: datetime,
) -> Chart:
    ends = [_month_end(settings, m, now) for m in months]
    counts: dict[tuple[str, str], list[int]] = {}
    for (person, group), person_spans in periods.items():
        for platform in platforms.get(person, set()):
            values = counts.setdefault((group, platform), [0] * len(months))
            for i, end in enumerate(ends):
                if any(a < end and (b is None or b >= end) for a, b in person_spans):
                    values[i] += 1
    names = {g.slug: g.name for g in settings.groups}
    order = {g.slug: i for i, g in enumerate(settings.groups)}
    series = tuple(
        Series(display_name(platform), tuple(values), panel=names.get(group, group))
        for (group, platform), values in sorted(
            counts.items(), key=lambda kv: (order.get(kv[0][0], len(order)), kv[0])
        )
    )
    total = len({p for (p, _), s in periods.items() if any(b is None for _, b in s)})
    return Chart(
        "members",
        "Members per group and platform",
        f"Members of each group at the end of each month, by platform; "
        f"{plural(total, 'person', 'people')} {'is' if total == 1 else 'are'} in a group now.",
        "lines",
        "Month",
        tuple(_label(m) for m in months),
        series,
        note="Derived from the audit log's joins, approvals, leaves and removals. A person "
        "counts on each platform they have an account on now; people who asked to be "
        "forgotten are in no month's count.",
    )


def joins_and_leaves(
    settings: Settings,
    periods: dict[tuple[int, str], list[tuple[datetime, datetime | None]]],
    months: list[date],
) -> Chart:
    index = {m: i for i, m in enumerate(months)}
    joins, leaves = [0] * len(months), [0] * len(months)
    for person_spans in periods.values():
        for start, end in person_spans:
            for when, counts in ((start, joins), (end, leaves)):
                if when is None:
                    continue
                month = when.astimezone(settings.zone).date().replace(day=1)
                if month in index:
                    counts[index[month]] += 1
    return Chart(
        "joins-leaves",
        "Joins and leaves per month",
        f"People who joined or left a group in each month: {plural(sum(joins), 'join')} and "
        f"{plural(sum(leaves), 'leave')} in the last {MONTHS} months.",
        "bars",
        "Month",
        tuple(_label(m) for m in months),
        (Series("Joined", tuple(joins)), Series("Left", tuple(leaves))),
        note="A person who joins two groups counts twice; a withdrawn request is not a leave.",
    )


async def _subscribers(session: AsyncSession, settings: Settings) -> Chart:
    found = await engagement.subscribers(session)
    slugs = [a.slug for a in settings.audiences]
    slugs += sorted(set(found) - set(slugs))
    platforms = sorted({p for counts in found.values() for p in counts if p})
    series = [Series("People", tuple(found.get(s, {}).get("", 0) for s in slugs))]
    series += [
        Series(display_name(p), tuple(found.get(s, {}).get(p, 0) for s in slugs)) for p in platforms
    ]
    people = sum(series[0].values)
    return Chart(
        "subscribers",
        "Subscribers per audience",
        f"People who take each audience's digest (broadcasts go to them too), and on which "
        f"platforms: {plural(people, 'subscription')} in all.",
        "bars",
        "Audience",
        tuple(digest.audience_name(settings, s) for s in slugs),
        tuple(series),
        note="A person with accounts on two platforms counts once in People and on each "
        "platform; accounts that blocked the bot are left out.",
    )


def _push_label(kind: str, push_id: int, title: str) -> str:
    what = "Digest" if kind == digest.DIGEST_KIND else "Broadcast"
    short = title.split(": ", 1)[-1] if kind == broadcasts.KIND else title
    return f"#{push_id} {what}: {short[:50]}"


async def _pushes(session: AsyncSession) -> Chart:
    found = await engagement.pushes(session, (digest.DIGEST_KIND, broadcasts.KIND), PUSHES)
    # A push to a few chats shows no clicks: they would say what those few followed.
    wide = [p.id for p in found if p.recipients >= click_links.MIN_RECIPIENTS]
    per_push = await clicks.clicks_per_push(session, wide)
    return Chart(
        "pushes",
        "Deliveries and clicks per digest and broadcast",
        f"The newest {plural(len(found), 'digest or broadcast', 'digests and broadcasts')}: the "
        "chats each was delivered to, and how often its links were followed "
        f"({plural(sum(per_push.values()), 'click')} in all).",
        "bars",
        "Digest or broadcast",
        tuple(_push_label(p.kind, p.id, p.title) for p in found),
        (
            Series("Delivered", tuple(p.delivered for p in found)),
            Series("Recipients", tuple(p.recipients for p in found)),
            Series("Clicks", tuple(per_push.get(p.id, 0) for p in found)),
        ),
        note="Clicks are counted only when config http.public_url is set: links then go "
        "through the bridge's redirect. A click is a count per link and day; who clicked is "
        "never recorded, and one person clicking twice counts twice. Pushes to fewer than "
        f"{click_links.MIN_RECIPIENTS} chats are not counted, so that a click cannot say who.",
    )


async def _links(session: AsyncSession) -> Chart:
    found = await clicks.most_clicked(session, LINKS, min_recipients=click_links.MIN_RECIPIENTS)
    return Chart(
        "links",
        "Links followed most",
        f"The {plural(len(found), 'link')} followed most, with the digest or broadcast each "
        "was in.",
        "bars",
        "Link",
        tuple(f"{link.item[:60]} (#{link.push_id}, {link.audience or 'all'})" for link in found),
        (Series("Clicks", tuple(link.clicks for link in found)),),
    )


def approval_times(found: Sequence[Decision]) -> Chart:
    approved, declined = [0] * len(WAITS), [0] * len(WAITS)
    for decision in found:
        waited = decision.decided_at - decision.requested_at
        bucket = next(i for i, (_, upto) in enumerate(WAITS) if waited < upto)
        (approved if decision.approved else declined)[bucket] += 1
    median = ""
    if found:
        hours = statistics.median(
            (d.decided_at - d.requested_at).total_seconds() / 3600 for d in found
        )
        median = f" Half were decided within {hours:.1f} hours."
    return Chart(
        "approval-times",
        "Approval times",
        f"How long {plural(len(found), 'join request')} waited for an admin's decision.{median}",
        "bars",
        "Waited",
        tuple(label for label, _ in WAITS),
        (Series("Approved", tuple(approved)), Series("Declined", tuple(declined))),
        note="From each request to its approval or decline in the audit log; requests still "
        "waiting are not counted.",
    )


def chart(found: Sequence[Chart], slug: str) -> Chart | None:
    return next((c for c in found if c.slug == slug), None)
