"""/groups, /join and /leave: opt-in groups with rules of engagement."""

from __future__ import annotations

from handlers.config import GroupConfig
from handlers.core import Command, Context
from handlers.errors import UserFacingError
from handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic
from store import audit
from store import groups as store_groups

ACCEPT = "--accept"
STATUS_TEXT = {
    store_groups.ACTIVE: "member",
    store_groups.PENDING: "waiting for approval",
    store_groups.DECLINED: "declined",
    store_groups.LEFT: "left",
    store_groups.REMOVED: "removed",
}
WHO = {"full": "Full", "associate": "Associate", "affiliate": "Affiliate", "supporter": "Supporter"}


def _find_group(ctx: Context, name: str) -> GroupConfig:
    wanted = name.strip().casefold().removeprefix("#")
    for group in ctx.settings.groups:
        if wanted in (group.slug, group.name.casefold()):
            return group
    known = ", ".join(g.slug for g in ctx.settings.groups)
    raise UserFacingError(f"There is no group called “{name[:60]}”. The groups are: {known}.")


def _and(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _eligibility(group: GroupConfig) -> str:
    types = _and([WHO[t] for t in group.member_types])
    roles = _and(list(group.roles))
    return f"Open to {roles} of {types} member organisations."


async def list_groups(ctx: Context) -> Reply:
    mine = {
        m.group_slug: m.status
        for m in await store_groups.memberships_of(ctx.session, ctx.person.id)
    }
    builder = ReplyBuilder().heading("Groups you can join")
    items = []
    for group in ctx.settings.groups:
        status = mine.get(group.slug)
        line: list[Span] = [bold(group.name), Span(f" ({group.slug}) — {group.description}")]
        if status in store_groups.CURRENT:
            line.append(italic(f" [{STATUS_TEXT[status]}]"))
        items.append(tuple(line))
    builder.bullets(items)
    for group in ctx.settings.groups:
        if mine.get(group.slug) in store_groups.CURRENT:
            builder.buttons(Button(f"Leave {group.name}", f"leave {group.slug}"))
        else:
            builder.buttons(Button(f"Join {group.name}", f"join {group.slug}"))
    return builder.build()


async def join(ctx: Context) -> Reply:
    if not ctx.args:
        return await list_groups(ctx)
    name, accepted = _split_accept(ctx.args)
    group = _find_group(ctx, name)
    current = await store_groups.membership(ctx.session, ctx.person.id, group.slug)
    if current is not None and current.status in store_groups.CURRENT:
        return (
            ReplyBuilder()
            .para(f"You are already in {group.name} ({STATUS_TEXT[current.status]}).")
            .build()
        )
    if not accepted:
        return _rules(group)
    version = await store_groups.record_consent(
        ctx.session, person_id=ctx.person.id, slug=group.slug, platform=ctx.request.user.platform
    )
    status = store_groups.ACTIVE if group.join_policy == "open" else store_groups.PENDING
    await store_groups.set_membership(
        ctx.session, person_id=ctx.person.id, slug=group.slug, status=status
    )
    await audit.record(
        ctx.session,
        actor_id=ctx.person.id,
        action="group.join",
        group=group.slug,
        status=status,
        rules_version=version,
    )
    builder = ReplyBuilder().para(
        "Thank you for accepting the rules of engagement (version ", str(version), ")."
    )
    if status == store_groups.ACTIVE:
        builder.para("You are now a member of ", bold(group.name), ".")
    else:
        builder.para(
            "Your request to join ",
            bold(group.name),
            " is waiting for a network admin to approve it. You will hear back here.",
        )
    builder.para(f"You can remove yourself at any time with {ctx.request.show('leave')}.")
    return builder.build()


def _split_accept(args: str) -> tuple[str, bool]:
    if args.endswith(ACCEPT):
        return args[: -len(ACCEPT)].strip(), True
    return args, False


def _rules(group: GroupConfig) -> Reply:
    return (
        ReplyBuilder()
        .heading(f"{group.name}: rules of engagement (version {group.rules.version})")
        .para(group.description)
        .para(italic(_eligibility(group)))
        .para(group.rules.text.strip())
        .para(
            "Joining needs an admin's approval."
            if group.join_policy == "approval"
            else "Anyone eligible can join straight away."
        )
        .buttons(Button("I accept", f"join {group.slug} {ACCEPT}"), Button("Cancel", "groups"))
        .build()
    )


async def leave(ctx: Context) -> Reply:
    mine = [
        m
        for m in await store_groups.memberships_of(ctx.session, ctx.person.id)
        if m.status in store_groups.CURRENT
    ]
    if not ctx.args:
        if not mine:
            return (
                ReplyBuilder()
                .para(f"You are not in any group. See {ctx.request.show('groups')} to join one.")
                .build()
            )
        builder = ReplyBuilder().para("Which group do you want to leave?")
        for m in mine:
            group = ctx.settings.group(m.group_slug)
            builder.buttons(Button(group.name if group else m.group_slug, f"leave {m.group_slug}"))
        return builder.build()
    group = _find_group(ctx, ctx.args)
    if group.slug not in {m.group_slug for m in mine}:
        return (
            ReplyBuilder()
            .para(f"You are not in {group.name}, so there is nothing to leave.")
            .build()
        )
    await store_groups.set_membership(
        ctx.session, person_id=ctx.person.id, slug=group.slug, status=store_groups.LEFT
    )
    await audit.record(ctx.session, actor_id=ctx.person.id, action="group.leave", group=group.slug)
    return (
        ReplyBuilder()
        .para("You have left ", bold(group.name), ".")
        .para(f"You can rejoin at any time with {ctx.request.show('join')}.")
        .build()
    )


COMMANDS = [
    Command("groups", "The groups you can join, and yours", list_groups),
    Command("join", "Join a group (after reading its rules)", join, usage="join GROUP"),
    Command(
        "leave", "Leave a group; you can remove yourself at any time", leave, usage="leave GROUP"
    ),
]
