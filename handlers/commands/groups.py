"""/groups, /join and /leave: opt-in groups with rules of engagement.

Joining is a declared flow (`JOIN`, handlers/flow.py): rules -> "I accept" -> your organisation
(searchable) -> your role -> eligibility -> member at once (open groups) or a request for
admins to approve. Its buttons are command lines (`join officers --org 12`) that answer the
same steps as typed text; the flow's progress is kept in the store, so a half-finished join
resumes.
"""

from __future__ import annotations

from datetime import datetime

from ccin_bridge.handlers import flow
from ccin_bridge.handlers.config import GroupConfig
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.membership import (
    activate,
    deactivate,
    ended_note,
    find_group,
    notify_admins,
)
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic
from ccin_bridge.handlers.requests import MAX_ARGS
from ccin_bridge.handlers.rules_acceptance import accept_action
from ccin_bridge.store import audit, reference
from ccin_bridge.store import groups as store_groups
from ccin_bridge.store import people as store_people
from ccin_bridge.store.records import OrganisationRecord

ACCEPT = "--accept"
RULES, ORG, ROLE = "rules", "org", "role"
OTHER = "other"  # the role option for "Something else"
STATUS_TEXT = {
    store_groups.ACTIVE: "member",
    store_groups.PENDING: "waiting for approval",
    store_groups.DECLINED: "declined",
    store_groups.LEFT: "left",
    store_groups.REMOVED: "removed",
}
WHO = {"full": "Full", "associate": "Associate", "affiliate": "Affiliate", "supporter": "Supporter"}
MAX_CHOICES = 8  # organisation buttons per search: more is a wall, not a choice
JOIN_THE_NETWORK = (
    "Only people from the network's member organisations can join its groups. If your "
    "organisation is not a member yet, it can join the network: see {about} for how, or ask a "
    "network admin. If you think it is a member under another name, try searching again."
)


class JoinState(flow.State):
    """Who is joining which group so far (stored as today's `{"group", "accepted", "org"}`)."""

    group: str
    accepted: int | None = None  # the rules version accepted
    org: int | None = None
    role: str | None = None  # the last answer: None is "something else"


def and_list(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _eligibility(group: GroupConfig) -> str:
    types = and_list([WHO[t] for t in group.member_types])
    roles = and_list(list(group.roles))
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


# --- the join flow ------------------------------------------------------------------------------


def _parse(args: str) -> tuple[str, str, str]:
    """`officers --org 12` -> ("officers", "--org", "12")."""
    name, _, rest = args.partition(" --")
    if not rest:
        return name.strip(), "", ""
    option, _, value = rest.partition(" ")
    return name.strip(), "--" + option.strip(), value.strip()


async def join(ctx: Context) -> Reply | list[Reply]:
    if ctx.conversation is not None:  # plain text answering the step in progress
        return await JOIN.reply(ctx)
    if not ctx.args:
        resumed = await JOIN.resume(ctx)
        return resumed if resumed is not None else await list_groups(ctx)
    name, option, value = _parse(ctx.args)
    group = find_group(ctx.settings, name)
    current = await store_groups.membership(ctx.session, ctx.person.id, group.slug)
    shown = _shown_version(value) if option == ACCEPT else None
    if current is not None and current.status == store_groups.ACTIVE:
        return await _already_member(ctx, group, accepting=option == ACCEPT, shown=shown)
    if current is not None and current.status == store_groups.PENDING:
        return ReplyBuilder().para(f"Your request to join {group.name} is with the admins.").build()
    fresh = JoinState(group=group.slug)
    if option == ACCEPT:
        if shown is not None and shown != group.rules.version:
            # A button from rules changed since: the current ones are read first.
            return [_changed_since(group), *await JOIN.start(ctx, fresh)]
        return await JOIN.start(ctx, fresh, {RULES: flow.YES})
    saved = await JOIN.saved(ctx)
    if saved is None or saved.state.group != group.slug or saved.state.accepted is None:
        # Nothing saved for this group, or a stale button from before the rules were accepted.
        return await JOIN.start(ctx, fresh)
    if option == "":
        return await JOIN.ask_at(ctx, saved.step.name, saved.state)
    if option == "--find":
        return await JOIN.answer(ctx, saved, ORG, value, picked=False)
    if option == "--unlisted":
        await JOIN.end(ctx)
        return _unlisted(ctx)
    if option == "--org":
        return await JOIN.answer(ctx, saved, ORG, value)
    if option == "--role":
        return await JOIN.answer(ctx, saved, ROLE, value)
    raise UserFacingError(f"I don't know the join option {option[:20]}.")


def _group(ctx: Context, state: JoinState) -> GroupConfig:
    """The group being joined; one gone from config ends the flow."""
    group = ctx.settings.group(state.group)
    if group is None:
        raise flow.Expired
    return group


# The rules step.


async def _ask_rules(ctx: Context, state: JoinState) -> Reply:
    return _rules(ctx, _group(ctx, state))


async def _rules_again(ctx: Context, state: JoinState) -> Reply:
    return _rules(ctx, _group(ctx, state), hint=True)


def _shown_version(value: str) -> int | None:
    """The version an "I accept" button names (`--accept v3`); None when typed without one."""
    digits = value.strip().casefold().removeprefix("v")
    return int(digits) if digits.isdigit() else None


def _changed_since(group: GroupConfig) -> Reply:
    return (
        ReplyBuilder()
        .para(
            f"The rules of {group.name} have changed since that message; nothing was accepted. "
            f"Here are the current ones (version {group.rules.version})."
        )
        .build()
    )


async def _accept(ctx: Context, state: JoinState, answer: str) -> JoinState | Reply:
    group = _group(ctx, state)
    version = await store_groups.record_consent(
        ctx.session,
        person_id=ctx.person.id,
        slug=group.slug,
        platform=ctx.request.user.platform,
        expected_version=group.rules.version,  # the version just shown
    )
    if version is None:  # changed in the store since: show the current rules
        return _rules(ctx, group, hint=True)
    return JoinState(group=group.slug, accepted=version)


def _rules(ctx: Context, group: GroupConfig, *, hint: bool = False) -> Reply:
    builder = (
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
    )
    if hint:
        builder.para("Press “I accept” (or reply “accept”) to go on, or cancel.")
    return builder.buttons(
        Button("I accept", accept_action(group.slug, group.rules.version), "confirm"),
        Button("Cancel", "cancel", "cancel"),
    ).build()


# The organisation step: typed text searches the member organisations; a button picks one.


async def _ask_organisation(ctx: Context, state: JoinState) -> Reply:
    found: list[OrganisationRecord] = []
    builder = ReplyBuilder().para(
        "Thank you. Which organisation are you from? Type part of its name "
        "(for example the town or council), and pick it from the list."
    )
    if ctx.person.organisation:
        builder.para("Or keep the one you gave before.")
        keep = await reference.organisations(
            ctx.session, ctx.person.organisation, individuals=False
        )
        found = [o for o in keep if o.name == ctx.person.organisation]
    return _organisations(builder, _group(ctx, state), found)


def _organisations(
    builder: ReplyBuilder, group: GroupConfig, found: list[OrganisationRecord]
) -> Reply:
    for org in found[:MAX_CHOICES]:
        builder.buttons(Button(org.name, f"join {group.slug} --org {org.id}"))
    return builder.buttons(
        Button("My organisation isn't listed", f"join {group.slug} --unlisted"),
        Button("Cancel", "cancel", "cancel"),
    ).build()


async def _search_organisation(ctx: Context, state: JoinState, query: str) -> JoinState | Reply:
    group = _group(ctx, state)
    if not query:
        return await _ask_organisation(ctx, state)
    found = await reference.organisations(ctx.session, query, individuals=False)
    exact = [o for o in found if o.name.casefold() == query.casefold()]
    if len(exact) == 1 or len(found) == 1:  # typed it in full: no need to ask again
        return state.model_copy(update={"org": (exact or found)[0].id})
    builder = ReplyBuilder()
    if not found:
        builder.para(f"No member organisation matches “{query[:60]}”. Try another word.")
    elif len(found) > MAX_CHOICES:
        builder.para(
            f"{len(found)} organisations match “{query[:60]}”; here are the first "
            f"{MAX_CHOICES}. Type more of the name to narrow it down."
        )
    else:
        builder.para("Which one is yours?")
    return _organisations(builder, group, found)


async def _pick_organisation(ctx: Context, state: JoinState, value: str) -> JoinState | Reply:
    if not value.isdigit():
        return await _search_organisation(ctx, state, value)
    org = await _organisation(ctx, int(value))
    if org is None:
        return await _ask_organisation(ctx, state)
    return state.model_copy(update={"org": org.id})


async def _organisation(ctx: Context, org_id: int | None) -> OrganisationRecord | None:
    orgs = {o.id: o for o in await reference.organisations(ctx.session, individuals=False)}
    return orgs.get(org_id or 0)


def _unlisted(ctx: Context) -> Reply:
    about = (
        ctx.request.show("about") if "about" in {c.name for c in ctx.commands} else "the website"
    )
    return (
        ReplyBuilder()
        .heading("Your organisation isn't listed")
        .para(JOIN_THE_NETWORK.format(about=about))
        .para(f"Nothing has been saved. You can start again with {ctx.request.show('join')}.")
        .build()
    )


# The role step: one of the group's roles, or something else (which the group is not for).


def _roles(env: flow.Env, state: JoinState) -> list[flow.Option]:
    group = env.settings.group(state.group)
    roles = group.roles if group is not None else ()
    return [
        *(flow.Option(str(index), role[:1].upper() + role[1:]) for index, role in enumerate(roles)),
        flow.Option(OTHER, "Something else"),
    ]


async def _ask_role(ctx: Context, state: JoinState) -> Reply:
    group = _group(ctx, state)
    builder = ReplyBuilder().para("And your role? Pick the one that fits, or type it.")
    for option in _roles(ctx, state):
        builder.buttons(Button(option.label, f"join {group.slug} --role {option.value}"))
    return builder.buttons(Button("Cancel", "cancel", "cancel")).build()


async def _role(ctx: Context, state: JoinState, value: str) -> JoinState:
    group = _group(ctx, state)
    role: str | None
    if value.isdigit() and int(value) < len(group.roles):
        role = group.roles[int(value)]
    else:
        wanted = value.casefold().rstrip("s")
        role = next((r for r in group.roles if r.casefold().rstrip("s") == wanted), None)
        if role is None and value.casefold() != OTHER:
            # A typo or a role named differently: ask again rather than turn them away.
            raise UserFacingError(f"I don't recognise the role “{value[:60]}”.")
    return state.model_copy(update={"role": role})


async def _joined(ctx: Context, state: JoinState, saved_at: datetime | None) -> Reply | list[Reply]:
    group = _group(ctx, state)
    org = await _organisation(ctx, state.org)
    if org is None:
        return await JOIN.ask_at(ctx, ORG, state)
    if state.role is None or org.member_type not in group.member_types:
        return await _not_eligible(ctx, group, org, state.role)
    await store_people.set_profile(
        ctx.session, ctx.person.id, organisation_id=org.id, role=state.role
    )
    return await _finish(ctx, group, org, state.role)


async def _groups_again(ctx: Context) -> Reply:
    return await list_groups(ctx)


JOIN = flow.Flow(
    command="join",
    state=JoinState,
    steps=(
        flow.Step(
            RULES,
            _ask_rules,
            flow.Confirm(("accept", "i accept", "agree", "i agree"), reask=_rules_again),
            _accept,
        ),
        flow.Step(
            ORG,
            _ask_organisation,
            flow.Text(MAX_ARGS),
            _search_organisation,
            pick=_pick_organisation,
            label="Organisation",
        ),
        flow.Step(ROLE, _ask_role, flow.Choice(_roles), _role, label="Role"),
    ),
    finish=_joined,
    expired=_groups_again,  # as before: a join that cannot go on shows the groups
)


async def _open_to(
    ctx: Context, refused: GroupConfig, org: OrganisationRecord, role: str | None
) -> list[GroupConfig]:
    """Groups worth suggesting after `refused`: not ones the person is in or waiting for, and
    not ones that would refuse them the same way (their organisation's type not taken, or,
    for a role `refused` does not list, a group whose roles are all among `refused`'s)."""
    mine = {
        m.group_slug
        for m in await store_groups.memberships_of(ctx.session, ctx.person.id)
        if m.status in store_groups.CURRENT
    }
    refused_roles = {r.casefold() for r in refused.roles}
    return [
        g
        for g in ctx.settings.groups
        if g.slug != refused.slug
        and g.slug not in mine
        and org.member_type in g.member_types
        and (role is not None or not {r.casefold() for r in g.roles} <= refused_roles)
    ]


async def _not_eligible(
    ctx: Context, group: GroupConfig, org: OrganisationRecord, role: str | None
) -> Reply:
    builder = ReplyBuilder().heading(f"{group.name} is not open to you")
    builder.para(_eligibility(group))
    if org.member_type not in group.member_types:
        builder.para(f"{org.name} is a {WHO[org.member_type]} member of the network.")
    if role is None:
        builder.para(f"The group is for {and_list(list(group.roles))}.")
    others = await _open_to(ctx, group, org, role)
    if others:
        builder.para("You may be able to join: ", ", ".join(g.name for g in others), ".")
        for g in others[:4]:
            builder.buttons(Button(f"Join {g.name}", f"join {g.slug}"))
    return builder.build()


async def _finish(ctx: Context, group: GroupConfig, org: OrganisationRecord, role: str) -> Reply:
    previous = await store_groups.membership(ctx.session, ctx.person.id, group.slug)
    # Someone an admin removed comes back only through an admin, even to an open group.
    needs_approval = group.join_policy == "approval" or (
        previous is not None and previous.status == store_groups.REMOVED
    )
    builder = ReplyBuilder()
    if not needs_approval:
        invites = await activate(ctx.session, group=group, person_id=ctx.person.id)
        await store_groups.set_role(
            ctx.session, person_id=ctx.person.id, slug=group.slug, role=role
        )
        await audit.record(
            ctx.session, actor_id=ctx.person.id, action="group.join", group=group.slug
        )
        builder.heading(f"Welcome to {group.name}")
        builder.para("You are now a member of ", bold(group.name), ".")
        if invites:
            builder.para("I will send you an invitation to the group's chat in a moment.")
    else:
        await store_groups.set_membership(
            ctx.session, person_id=ctx.person.id, slug=group.slug, status=store_groups.PENDING
        )
        await store_groups.set_role(
            ctx.session, person_id=ctx.person.id, slug=group.slug, role=role
        )
        request = next(
            r
            for r in await store_groups.pending_requests(ctx.session)
            if r.person_id == ctx.person.id and r.group_slug == group.slug
        )
        await audit.record(
            ctx.session,
            actor_id=ctx.person.id,
            action="group.request",
            group=group.slug,
            request=request.request_id,
        )
        await notify_admins(
            ctx.session,
            ctx.settings,
            approval_card(request, group, org_type=WHO[org.member_type]),
            title=f"Join request #{request.request_id}",
            created_by=None,
            subject_id=ctx.person.id,
        )
        builder.para(
            "Thank you. Your request to join ",
            bold(group.name),
            " is waiting for a network admin to approve it. You will hear back here.",
        )
    builder.para(f"You can remove yourself at any time with {ctx.request.show('leave')}.")
    return builder.build()


def approval_card(request: store_groups.MemberRow, group: GroupConfig, *, org_type: str) -> Reply:
    """What admins see for one join request, with Approve / Decline buttons."""
    return (
        ReplyBuilder()
        .heading(f"Join request #{request.request_id}: {group.name}")
        .bullets(
            [
                (bold("Name: "), Span(request.display_name or "(no name)")),
                (bold("Organisation: "), Span(f"{request.organisation} ({org_type})")),
                (bold("Role: "), Span(request.role or "(not given)")),
                (bold("Uses: "), Span(", ".join(request.platforms) or "-")),
            ]
        )
        .buttons(
            Button("Approve", f"approve {request.request_id}", "approve"),
            Button("Decline", f"decline {request.request_id}", "decline", "reason"),
        )
        .build(private=True, kind="approval_request")
    )


async def _already_member(
    ctx: Context, group: GroupConfig, *, accepting: bool, shown: int | None
) -> Reply | list[Reply]:
    accepted = await store_groups.accepted_version(ctx.session, ctx.person.id, group.slug)
    if (accepted or 0) < await store_groups.rules_version(ctx.session, group.slug):
        if not accepting or shown is None:
            # Typed without a version: they read the current text before accepting it.
            return _rules(ctx, group)
        version = await store_groups.record_consent(
            ctx.session,
            person_id=ctx.person.id,
            slug=group.slug,
            platform=ctx.request.user.platform,
            expected_version=shown,
        )
        if version is None:
            return [_changed_since(group), _rules(ctx, group)]
        await audit.record(
            ctx.session,
            actor_id=ctx.person.id,
            action="group.reaccept",
            group=group.slug,
            rules_version=version,
        )
        return (
            ReplyBuilder()
            .para(f"Thank you for accepting version {version} of the {group.name} rules.")
            .build()
        )
    return ReplyBuilder().para(f"You are already a member of {group.name}.").build()


# --- leaving ----------------------------------------------------------------------------------


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
    group = find_group(ctx.settings, ctx.args)
    current = next((m for m in mine if m.group_slug == group.slug), None)
    if current is None:
        return (
            ReplyBuilder()
            .para(f"You are not in {group.name}, so there is nothing to leave.")
            .build()
        )
    left = await deactivate(
        ctx.session,
        group=group,
        person_id=ctx.person.id,
        status=store_groups.LEFT,
        settings=ctx.settings,
    )
    await audit.record(ctx.session, actor_id=ctx.person.id, action="group.leave", group=group.slug)
    builder = ReplyBuilder()
    if current.status == store_groups.PENDING:
        builder.para("Your request to join ", bold(group.name), " is withdrawn.")
    else:
        builder.para("You have left ", bold(group.name), ".")
    if left.removals:
        builder.para("I am taking you out of the group's chats on every platform you use.")
    if left.ended:
        builder.para(
            ended_note(ctx.settings, left.ended),
            f" You can subscribe again with {ctx.request.show('subscribe')}.",
        )
    return builder.para(
        "You can remove yourself at any time, and rejoin whenever you like with "
        f"{ctx.request.show('join ' + group.slug)}."
    ).build()


COMMANDS = [
    Command("groups", "The groups you can join, and yours", list_groups, read_only=True),
    Command("join", "Join a group (after reading its rules)", join, usage="join GROUP"),
    Command(
        "leave", "Leave a group; you can remove yourself at any time", leave, usage="leave GROUP"
    ),
]
