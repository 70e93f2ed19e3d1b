"""/group: admins see and edit a group's settings (description, join policy, who may join,
rules of engagement). The console's Groups page submits its form to this same command
(`Request.form`), so chat and console share every check and audit entry.

    /group                                  every group, its settings and rules acceptance
    /group show GROUP                       one group, with each member's acceptance state
    /group set GROUP description TEXT       also join_policy open|approval,
                                            member_types full, associate, roles officer, ...
    /group rules GROUP                      (then the new text, on the same or next lines)
    /group reset GROUP SETTING              config.yaml's value applies again
    /group audience AUDIENCE TEXT           a newsletter audience's description

New rules text is the next version: every member is asked to accept it (handlers/
rules_acceptance.py).
"""

from __future__ import annotations

from ccin_bridge.handlers import group_settings, rules_acceptance
from ccin_bridge.handlers.commands.groups import WHO, and_list
from ccin_bridge.handlers.config import GroupConfig
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.membership import find_group
from ccin_bridge.handlers.plural import plural
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic
from ccin_bridge.handlers.requests import clean_multiline
from ccin_bridge.store import audit
from ccin_bridge.store import group_settings as store_settings

GROUP_FIELD = "group"  # the form's field naming the group being edited
POLICY = {"open": "open (anyone eligible joins at once)", "approval": "an admin approves"}


def _settings_lines(group: GroupConfig) -> list[tuple[Span, ...]]:
    return [
        (bold("Description: "), Span(group.description)),
        (bold("Join policy: "), Span(POLICY[group.join_policy])),
        (bold("Member types: "), Span(and_list([WHO[t] for t in group.member_types]))),
        (bold("Roles: "), Span(", ".join(group.roles))),
        (bold("Rules: "), Span(f"version {group.rules.version}")),
    ]


async def _list(ctx: Context) -> Reply:
    builder = ReplyBuilder().heading("Groups and their settings")
    for group in ctx.settings.groups:
        states = await rules_acceptance.acceptance(ctx.session, group.slug)
        pending = sum(1 for s in states if s.state != rules_acceptance.ACCEPTED)
        builder.para(bold(group.name), f" ({group.slug})")
        builder.bullets(
            [
                *_settings_lines(group),
                (
                    bold("Members: "),
                    Span(f"{len(states)}, "),
                    italic(f"{pending} yet to accept the current rules")
                    if pending
                    else Span("all have accepted the current rules"),
                ),
            ]
        )
        builder.buttons(Button(f"Show {group.name}", f"group show {group.slug}"))
    return builder.build(private=True)


async def _show(ctx: Context, group: GroupConfig) -> Reply:
    builder = ReplyBuilder().heading(f"{group.name} ({group.slug})")
    builder.bullets(_settings_lines(group))
    builder.para(bold(f"Rules of engagement, version {group.rules.version}:"))
    builder.para(group.rules.text.strip())
    states = await rules_acceptance.acceptance(ctx.session, group.slug)
    builder.para(bold("Rules acceptance by member"))
    items = []
    for s in states:
        when = (
            f" on {s.asked_at.astimezone(ctx.settings.zone):%d %b %Y}"
            if s.asked_at is not None
            else ""
        )
        detail = (
            f"accepted version {s.accepted_version}"
            if s.state == rules_acceptance.ACCEPTED
            else f"{s.state}{when}; has accepted "
            + (f"version {s.accepted_version}" if s.accepted_version else "no version")
        )
        items.append(
            (bold(f"{s.display_name or '(no name)'} "), Span(f"[#{s.person_id}]: "), Span(detail))
        )
    builder.bullets(items)
    if not states:
        builder.para("No members yet.")
    return builder.build(private=True)


async def _save(ctx: Context, group: GroupConfig, changes: dict[str, str | list[str]]) -> list[str]:
    """Apply checked changes; the new rules (if any) bump the version and start the asking.
    Returns what to tell the admin."""
    said: list[str] = []
    settings = {k: v for k, v in changes.items() if k != "rules"}
    if settings:
        await store_settings.edit_group(ctx.session, group.slug, settings)
        await audit.record(
            ctx.session,
            actor_id=ctx.person.id,
            action="group.edit",
            group=group.slug,
            settings=", ".join(settings),
        )
        said.append(
            "Saved: " + and_list([group_settings.LABELS[k].lower() for k in settings]) + "."
        )
    if "rules" in changes:
        version = await store_settings.new_rules(ctx.session, group.slug, str(changes["rules"]))
        await audit.record(
            ctx.session,
            actor_id=ctx.person.id,
            action="group.rules",
            group=group.slug,
            rules_version=version,
        )
        live = await group_settings.live(ctx.session, ctx.settings)
        asked = await rules_acceptance.ask(ctx.session, live, ctx.now, slug=group.slug)
        said.append(
            f"The rules of {group.name} are now version {version}; "
            f"{plural(asked, 'member')} asked to accept them"
            " (members who have not accepted in a week are reminded once; nobody is removed)."
        )
    return said or ["Nothing changed: those are the group's settings already."]


async def _set(ctx: Context, rest: str) -> Reply:
    slug, _, after = rest.partition(" ")
    name, _, value = after.strip().partition(" ")
    field = group_settings.ALIASES.get(name.strip().casefold())
    if not slug or field is None or field == "rules":
        raise UserFacingError(
            "Which setting? For example "
            f"{ctx.request.show('group set officers join_policy approval')}; the settings are "
            "description, join_policy, member_types and roles "
            f"(new rules: {ctx.request.show('group rules officers')} and the text)."
        )
    group = find_group(ctx.settings, slug)
    changes, errors = group_settings.check(group, {field: value})
    if errors:
        raise UserFacingError(f"{errors[field]}.")
    return ReplyBuilder().para(" ".join(await _save(ctx, group, changes))).build(private=True)


async def _rules(ctx: Context, rest: str) -> Reply:
    first, _, text = rest.partition("\n")
    slug, _, inline = first.strip().partition(" ")
    if not slug:
        raise UserFacingError(
            f"Which group? For example {ctx.request.show('group rules officers')}."
        )
    group = find_group(ctx.settings, slug)
    text = "\n".join(part for part in (inline.strip(), text.strip()) if part)
    if not text:
        return (
            ReplyBuilder()
            .heading(f"{group.name}: rules of engagement, version {group.rules.version}")
            .para(group.rules.text.strip())
            .para(
                f"To replace them, send {ctx.request.show('group rules ' + group.slug)} with "
                "the new text on the lines below it. That makes version "
                f"{group.rules.version + 1}, and every member is asked to accept it."
            )
            .build(private=True)
        )
    changes, errors = group_settings.check(group, {"rules": text})
    if errors:
        raise UserFacingError(f"{errors['rules']}.")
    return ReplyBuilder().para(" ".join(await _save(ctx, group, changes))).build(private=True)


async def _reset(ctx: Context, rest: str) -> Reply:
    """`/group reset GROUP SETTING`: config.yaml's value applies again to that setting."""
    slug, _, name = rest.partition(" ")
    field = group_settings.ALIASES.get(name.strip().casefold())
    if not slug or field is None or field == "rules":
        raise UserFacingError(
            "Which setting? For example "
            f"{ctx.request.show('group reset officers description')}: description, "
            "join_policy, member_types or roles (the rules keep their version: send new rules "
            f"with {ctx.request.show('group rules GROUP')} instead)."
        )
    group = find_group(ctx.settings, slug)
    await store_settings.hand_back(ctx.session, group.slug, [field])
    await audit.record(
        ctx.session, actor_id=ctx.person.id, action="group.reset", group=group.slug, setting=field
    )
    label = group_settings.LABELS[field]
    return (
        ReplyBuilder()
        .para(f"{label} of {group.name}: config.yaml's value applies again.")
        .build(private=True)
    )


async def _audience(ctx: Context, rest: str) -> Reply:
    """`/group audience SLUG TEXT`: a newsletter audience's description (shown by /subscribe)."""
    slug, _, text = rest.partition(" ")
    found = next((a for a in ctx.settings.audiences if a.slug == slug.strip().casefold()), None)
    if found is None:
        known = ", ".join(a.slug for a in ctx.settings.audiences) or "none"
        raise UserFacingError(
            f"Which audience? For example {ctx.request.show('group audience members TEXT')}; "
            f"the audiences are: {known}."
        )
    text = " ".join(text.split())
    if not text:
        return (
            ReplyBuilder()
            .para(bold(found.name), f" ({found.slug}): ", found.description or "(no description)")
            .build(private=True)
        )
    if len(text) > group_settings.MAX_DESCRIPTION:
        raise UserFacingError(
            f"The description must be {group_settings.MAX_DESCRIPTION:,} characters or fewer."
        )
    await store_settings.edit_audience(ctx.session, found.slug, description=text)
    await audit.record(
        ctx.session, actor_id=ctx.person.id, action="audience.edit", audience=found.slug
    )
    return ReplyBuilder().para(f"Saved the description of {found.name}.").build(private=True)


async def _form(ctx: Context) -> Reply:
    """The console's edit form: every field checked first, nothing saved if any is wrong."""
    form = ctx.request.form
    assert form is not None
    answers = {k: clean_multiline(v) for k, v in form.answers.items()}
    try:
        group = find_group(ctx.settings, answers.get(GROUP_FIELD, ""))
    except UserFacingError as exc:
        form.errors[GROUP_FIELD] = str(exc)
        return ReplyBuilder().para(str(exc)).build(private=True)
    answers, moved = group_settings.changed_since_drawn(group, answers)
    changes, errors = group_settings.check(group, answers)
    errors.update(moved)
    if errors:
        form.errors.update(errors)
        return (
            ReplyBuilder().para("Nothing was saved; please correct the form.").build(private=True)
        )
    if form.check_only:
        form.taken = True
        return ReplyBuilder().para("The form is fine.").build(private=True)
    said = await _save(ctx, group, changes)
    form.taken = True
    return ReplyBuilder().para(" ".join(said)).build(private=True)


async def group(ctx: Context) -> Reply:
    if ctx.request.form is not None:
        return await _form(ctx)
    action, rest = ([*ctx.args.split(maxsplit=1), "", ""])[:2]  # on a space or line break
    action = action.strip().casefold()
    if not action or action == "list":
        return await _list(ctx)
    if action == "show":
        return await _show(ctx, find_group(ctx.settings, rest.strip()))
    if action == "set":
        return await _set(ctx, rest.strip())
    if action == "rules":
        return await _rules(ctx, rest)
    if action == "reset":
        return await _reset(ctx, rest.strip())
    if action == "audience":
        return await _audience(ctx, rest.strip())
    return await _show(ctx, find_group(ctx.settings, ctx.args.strip()))


COMMANDS = [
    Command(
        "group",
        "See and edit a group's settings and rules (admins)",
        group,
        usage="group [show GROUP | set GROUP SETTING VALUE | rules GROUP TEXT | audience SLUG TEXT]",  # noqa: E501,
        admin_only=True,
        free_text=True,
    ),
]
