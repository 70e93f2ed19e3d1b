"""/link: one person across platforms, joined with a one-time code."""

from __future__ import annotations

from sqlalchemy import select

from handlers.core import Command, Context
from handlers.errors import UserFacingError
from handlers.membership import queue_chat_changes
from handlers.replies import Reply, ReplyBuilder, Span, bold
from store import audit, chat_actions, link_codes, linking
from store import groups as store_groups
from store.models import Identity, Person


async def link(ctx: Context) -> Reply:
    if not ctx.args:
        code, expires = await link_codes.issue(ctx.session, ctx.person.id, ctx.now)
        minutes = int((expires - ctx.now).total_seconds() // 60)
        return (
            ReplyBuilder()
            .heading("Link your accounts")
            .para("Your one-time code is ", Span(code, code=True), ".")
            .para(
                f"Within {minutes} minutes, send “link {code}” to this bot on the other "
                "platform (Telegram or Slack). Your groups, subscriptions and accepted rules "
                "will then apply to both accounts."
            )
            .para("Do not share the code: whoever uses it joins their account to yours.")
            .build(private=True)
        )
    owner = await link_codes.redeem(ctx.session, ctx.args, ctx.now)
    if owner is None or await ctx.session.get(Person, owner) is None:
        raise UserFacingError(
            "That code is not valid: it may have expired (codes last 10 minutes) or been used. "
            f"Send {ctx.request.show('link')} on the other platform for a new one."
        )
    if owner == ctx.person.id:
        return ReplyBuilder().para("These accounts are already linked.").build(private=True)
    platforms = set(
        await ctx.session.scalars(select(Identity.platform).where(Identity.person_id == owner))
    )
    if ctx.request.user.platform in platforms:
        raise UserFacingError(
            f"That code belongs to someone who already has a {ctx.request.user.platform} "
            "account here. Enter it on the other platform."
        )
    here = ctx.request.user.platform
    owner_groups = await _active_groups(ctx, owner)
    my_groups = await _active_groups(ctx, ctx.person.id)
    await linking.merge(ctx.session, keep_id=owner, merge_id=ctx.person.id)
    # Memberships now apply to both accounts: each account is invited to the chats of the
    # groups only the other one was in (it is already in its own).
    invites = 0
    for membership in await store_groups.memberships_of(ctx.session, owner):
        group = ctx.settings.group(membership.group_slug)
        if group is None or membership.status != store_groups.ACTIVE:
            continue
        wanted: set[str] = set()
        if group.slug not in my_groups:
            wanted.add(here)
        if group.slug not in owner_groups:
            wanted |= platforms
        if wanted:
            invites += await queue_chat_changes(
                ctx.session,
                group=group,
                person_id=owner,
                kind=chat_actions.INVITE,
                platforms=wanted,
            )
    await audit.record(
        ctx.session, actor_id=owner, action="person.link", platform=ctx.request.user.platform
    )
    builder = ReplyBuilder().para(
        bold("Linked. "), "This account and your other one are now one person to the bridge."
    )
    if invites:
        builder.para("I will send you invitations to your groups' chats you are not in yet.")
    return builder.build(private=True)


async def _active_groups(ctx: Context, person_id: int) -> set[str]:
    memberships = await store_groups.memberships_of(ctx.session, person_id)
    return {m.group_slug for m in memberships if m.status == store_groups.ACTIVE}


COMMANDS = [
    Command(
        "link",
        "Link your accounts on two platforms with a one-time code",
        link,
        usage="link [CODE]",
    )
]
