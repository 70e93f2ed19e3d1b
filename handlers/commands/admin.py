"""Admin tools for groups: /pending, /approve, /decline, /members, /remove, /stats.

Every decision is audited with the acting admin; people hear the outcome through the outbox.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from ccin_bridge.handlers import flow, topics
from ccin_bridge.handlers.config import GroupConfig
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.membership import (
    activate,
    deactivate,
    ended_note,
    find_group,
    notify_person,
    show,
)
from ccin_bridge.handlers.plural import plural
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic
from ccin_bridge.store import audit, people
from ccin_bridge.store import groups as store_groups

NO_REASON = "--no-reason"


async def _request(ctx: Context, value: str) -> store_groups.MemberRow:
    number = value.strip().removeprefix("#")
    row = await store_groups.request(ctx.session, int(number)) if number.isdigit() else None
    if row is None:
        raise UserFacingError(
            f"There is no join request {value[:20]!r}. See {ctx.request.show('pending')}."
        )
    if row.status != store_groups.PENDING:
        raise UserFacingError(
            f"Request #{row.request_id} was already decided ({row.status}); nothing changed."
        )
    return row


async def pending(ctx: Context) -> Reply:
    rows = await store_groups.pending_requests(ctx.session)
    if not rows:
        return ReplyBuilder().para("No join requests are waiting.").build(private=True)
    builder = ReplyBuilder().heading(f"Join requests waiting ({len(rows)})")
    for row in rows:
        group = ctx.settings.group(row.group_slug)
        builder.para(
            bold(f"#{row.request_id} "),
            f"{row.display_name or '(no name)'}, {row.role or 'role not given'} at "
            f"{row.organisation or 'organisation not given'}, for ",
            bold(group.name if group else row.group_slug),
            f" (since {row.created_at:%d %b})",
        )
        builder.buttons(
            Button(f"Approve #{row.request_id}", f"approve {row.request_id}", "approve"),
            Button(f"Decline #{row.request_id}", f"decline {row.request_id}", "decline", "reason"),
        )
    return builder.build(private=True, kind="approval_request")


async def approve(ctx: Context) -> Reply:
    if not ctx.args:
        raise UserFacingError(f"Which request? For example {ctx.request.show('approve 12')}.")
    row = await _request(ctx, ctx.args)
    group = ctx.settings.group(row.group_slug)
    if group is None:
        raise UserFacingError(f"The group {row.group_slug} is no longer in config.")
    invites = await activate(ctx.session, group=group, person_id=row.person_id)
    await audit.record(
        ctx.session,
        actor_id=ctx.person.id,
        action="admin.approve",
        subject_id=row.person_id,
        group=group.slug,
        request=row.request_id,
        person=row.person_id,
    )
    welcome = (
        ReplyBuilder()
        .heading(f"Welcome to {group.name}")
        .para("Your request to join ", bold(group.name), " has been approved.")
        .para(
            "I will send you an invitation to the group's chat in a moment."
            if invites
            else "The group's conversations will reach you here."
        )
        .para(f"You can remove yourself at any time with {_leave_command(group, row.platforms)}.")
        .build()
    )
    await notify_person(ctx.session, row.person_id, welcome, title=f"Welcome to {group.name}")
    return (
        ReplyBuilder()
        .para(
            f"Approved #{row.request_id}: {row.display_name or 'the person'} is now in ",
            bold(group.name),
            f"; {plural(invites, 'chat invitation')} queued.",
        )
        .build(private=True)
    )


def _leave_command(group: GroupConfig, platforms: tuple[str, ...]) -> str:
    """/leave as typed on each platform the person uses: the notice reaches them on all, and on
    Slack a bare /leave is Slack's own command for leaving the channel."""
    return " or ".join(sorted({show(p, f"leave {group.slug}") for p in platforms or ("",)}))


async def decline(ctx: Context) -> Reply:
    if flow.step_of(ctx) == "reason":
        assert ctx.conversation is not None
        request_id, reason = str(ctx.conversation.data["request"]), ctx.args
        try:
            await _request(ctx, request_id)
        except UserFacingError as exc:
            # Decided meanwhile (another admin, the card's buttons): this step is over, and
            # the text typed for it must not reach anyone.
            await flow.end(ctx)
            return ReplyBuilder().para(exc.reason).build(private=True)
    else:
        request_id, _, reason = ctx.args.partition(" ")
        if not request_id:
            raise UserFacingError(f"Which request? For example {ctx.request.show('decline 12')}.")
    row = await _request(ctx, request_id)
    if not reason:
        await flow.begin(ctx, "reason", {"request": row.request_id})
        return (
            ReplyBuilder()
            .para(
                f"Why are you declining #{row.request_id}? Your reply is sent to "
                f"{row.display_name or 'them'}; keep it kind."
            )
            .buttons(
                Button(
                    "Decline without a reason", f"decline {row.request_id} {NO_REASON}", "decline"
                ),
                Button("Cancel", "cancel", "cancel"),
            )
            .build(private=True)
        )
    await flow.end(ctx)
    given = None if reason.strip() == NO_REASON else reason.strip()[:500]
    group = ctx.settings.group(row.group_slug)
    name = group.name if group else row.group_slug
    await store_groups.set_membership(
        ctx.session,
        person_id=row.person_id,
        slug=row.group_slug,
        status=store_groups.DECLINED,
        reason=given,
    )
    await audit.record(
        ctx.session,
        actor_id=ctx.person.id,
        action="admin.decline",
        subject_id=row.person_id,
        group=row.group_slug,
        request=row.request_id,
        person=row.person_id,
        reason=given,
    )
    notice = ReplyBuilder().para("Your request to join ", bold(name), " was not approved.")
    if given:
        notice.para("The admins said: ", italic(given))
    notice.para("If you think this is a mistake, reply here and a network admin will look again.")
    await notify_person(ctx.session, row.person_id, notice.build(), title=f"About {name}")
    return ReplyBuilder().para(f"Declined #{row.request_id}.").build(private=True)


async def members(ctx: Context) -> Reply:
    if not ctx.args:
        raise UserFacingError(f"Which group? For example {ctx.request.show('members officers')}.")
    group = find_group(ctx.settings, ctx.args)
    rows = await store_groups.members(ctx.session, group.slug, store_groups.CURRENT)
    waiting = sum(1 for row in rows if row.status == store_groups.PENDING)
    builder = ReplyBuilder().heading(
        f"{group.name}: {plural(len(rows) - waiting, 'member')} and {plural(waiting, 'request')}"
    )
    items = []
    for row in rows:
        rules = (
            f"rules v{row.accepted_version} accepted"
            if (row.accepted_version or 0) >= row.rules_version
            else f"rules v{row.rules_version} NOT yet accepted (has v{row.accepted_version or 0})"
        )
        items.append(
            (
                bold(f"{row.display_name or '(no name)'} "),
                Span(f"[#{row.person_id}] {row.role or '-'}, {row.organisation or '-'}; "),
                Span(f"{STATUS[row.status]}; {', '.join(row.platforms) or 'no platform'}; "),
                italic(rules),
            )
        )
    builder.bullets(items)
    if not rows:
        builder.para("Nobody yet.")
    return builder.build(private=True)


STATUS = {"active": "member", "pending": "waiting for approval"}


async def _resolve_person(ctx: Context, ref: str, slug: str) -> int:
    """A person by `#12` (as /members shows), `platform:id`, `@handle` or exact name."""
    ref = ref.strip()
    if ref.removeprefix("#").isdigit():
        person_id = int(ref.removeprefix("#"))
        if await people.person_exists(ctx.session, person_id):
            return person_id
    if ":" in ref:
        platform, _, external = ref.partition(":")
        found = await people.person_id_of(ctx.session, platform, external)
        if found is not None:
            return found
    handle = ref.removeprefix("@").casefold()
    candidates = {
        r.person_id
        for r in await store_groups.members(ctx.session, slug, store_groups.CURRENT)
        if r.display_name.casefold() == ref.casefold()
    }
    candidates |= set(await people.people_with_handle(ctx.session, handle))
    if len(candidates) == 1:
        return candidates.pop()
    if candidates:
        raise UserFacingError(
            f"More than one person matches “{ref[:40]}”; use the #number from "
            f"{ctx.request.show('members ' + slug)}."
        )
    raise UserFacingError(
        f"Nobody matches “{ref[:40]}”. Use the #number from {ctx.request.show('members ' + slug)}."
    )


_QUOTED_EXAMPLE = 'remove officers "Ada Lovelace" left the council'
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»"}  # opening -> closing


def _person_and_reason(rest: str) -> tuple[str, str]:
    """`"Exact Name" reason` or `#12 reason`: a name in quotes may have spaces."""
    rest = rest.strip()
    closing = _QUOTES.get(rest[:1])
    if closing is not None:
        end = rest.find(closing, 1)
        if end == -1:
            raise UserFacingError(f"The name has no closing quote: {rest[:40]}")
        return rest[1:end].strip(), rest[end + 1 :].strip()
    person, _, reason = rest.partition(" ")
    return person, reason.strip()


async def remove(ctx: Context) -> Reply:
    slug, _, rest = ctx.args.strip().partition(" ")
    person, reason_given = _person_and_reason(rest) if rest.strip() else ("", "")
    if not person:
        raise UserFacingError(
            f"Usage: {ctx.request.show('remove GROUP PERSON [reason]')}, e.g. "
            f"{ctx.request.show('remove officers #12 left the council')} or "
            f"{ctx.request.show(_QUOTED_EXAMPLE)}."
        )
    group = find_group(ctx.settings, slug)
    person_id = await _resolve_person(ctx, person, group.slug)
    reason = reason_given[:500] or None
    current = await store_groups.membership(ctx.session, person_id, group.slug)
    if current is None or current.status not in store_groups.CURRENT:
        raise UserFacingError(f"That person is not in {group.name}.")
    removed = await deactivate(
        ctx.session,
        group=group,
        person_id=person_id,
        status=store_groups.REMOVED,
        settings=ctx.settings,
        reason=reason,
    )
    await audit.record(
        ctx.session,
        actor_id=ctx.person.id,
        action="admin.remove",
        subject_id=person_id,
        group=group.slug,
        person=person_id,
        reason=reason,
    )
    notice = ReplyBuilder().para("A network admin has removed you from ", bold(group.name), ".")
    if reason:
        notice.para("The reason given: ", italic(reason))
    if removed.ended:
        notice.para(ended_note(ctx.settings, removed.ended))
        notice.buttons(Button("Your subscriptions", "subscribe"))
    await notify_person(ctx.session, person_id, notice.build(), title=f"About {group.name}")
    answer = ReplyBuilder().para(
        f"Removed #{person_id} from {group.name}; "
        f"{plural(removed.removals, 'chat removal')} queued."
    )
    if removed.ended:
        answer.para(f"Subscriptions ended: {topics.listing(ctx.settings, list(removed.ended))}.")
    return answer.build(private=True)


def _month_start(now: datetime, zone: tzinfo) -> datetime:
    """Midnight on the 1st in the network's time zone: "this month" as its members count it."""
    return now.astimezone(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def stats(ctx: Context) -> Reply:
    by_platform = await store_groups.counts_by_platform(ctx.session)
    by_status = await store_groups.count_by_status(ctx.session)
    since = _month_start(ctx.now, ctx.settings.zone)
    monthly = await audit.count_by_action(ctx.session, since)
    joins = monthly.get("group.join", 0) + monthly.get("admin.approve", 0)
    leaves = monthly.get("group.leave", 0) + monthly.get("admin.remove", 0)
    builder = ReplyBuilder().heading("Groups at a glance")
    items = []
    for group in ctx.settings.groups:
        platforms = by_platform.get(group.slug, {})
        active = by_status.get((group.slug, store_groups.ACTIVE), 0)
        waiting = by_status.get((group.slug, store_groups.PENDING), 0)
        spread = ", ".join(f"{p} {n}" for p, n in sorted(platforms.items())) or "none"
        items.append(
            (bold(group.name), Span(f": {plural(active, 'member')} ({spread}); {waiting} pending"))
        )
    builder.bullets(items)
    builder.para(
        f"This month (since {since:%d %B}): {joins} joined, {leaves} left or removed. "
        f"Waiting for approval: {sum(n for (_, s), n in by_status.items() if s == 'pending')}."
    )
    return builder.build(private=True)


COMMANDS = [
    Command(
        "pending",
        "Join requests waiting for approval",
        pending,
        admin_only=True,
        read_only=True,
    ),
    Command(
        "approve", "Approve a join request", approve, usage="approve REQUEST_ID", admin_only=True
    ),
    Command(
        "decline",
        "Decline a join request, with a reason",
        decline,
        usage="decline REQUEST_ID [reason]",
        admin_only=True,
    ),
    Command(
        "members",
        "Members of a group and their rules",
        members,
        usage="members GROUP",
        admin_only=True,
        read_only=True,
    ),
    Command(
        "remove",
        "Remove someone from a group, with a reason",
        remove,
        usage="remove GROUP PERSON [reason]",
        admin_only=True,
    ),
    Command(
        "stats",
        "Members per group and platform, joins and leaves",
        stats,
        admin_only=True,
        read_only=True,
    ),
]
