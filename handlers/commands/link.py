"""/link and /unlink: one person across platforms, joined only with both accounts' consent.

The account that issues a code consents by passing it on; the account that types it is shown
exactly whose account it would join and must confirm (only that account may). The issuing
account is told afterwards, with how to undo it. Admin rights belong to the account they were
granted to (config `admins`, `admin grant`), so linking never passes them on, either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers import platforms
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.identity import parse_user_key
from ccin_bridge.handlers.membership import notify_person, queue_chat_changes, show
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold
from ccin_bridge.store import audit, chat_actions, link_codes, linking, people
from ccin_bridge.store import groups as store_groups
from ccin_bridge.store.records import IdentityRecord, PersonName

CONFIRM, CANCEL = "--confirm", "--cancel"


def account_label(identity: IdentityRecord) -> str:
    """`Telegram @alexexample`, or `Slack id U0ALEX` for an account without a handle."""
    platform = platforms.label(identity.platform)
    if identity.username:
        return f"{platform} @{identity.username.removeprefix('@')}"
    return f"{platform} id {identity.external_id}"


def _elsewhere(ctx: Context, joiner: str) -> str:
    """The platforms people reach the bot on, other than this one, for a sentence."""
    here = ctx.request.user.platform
    others = [s.label for s in platforms.registered().values() if s.public and s.name != here]
    return joiner.join(others) or "another platform"


def _labels(identities: Iterable[IdentityRecord], *, named: bool = False) -> str:
    """Accounts for a sentence; `named` adds the name each shows, for people who may not
    recognise a handle."""
    return ", ".join(
        account_label(i) + (f" ({i.display_name})" if named and i.display_name else "")
        for i in identities
    )


def _typed(platforms: Iterable[str], command_line: str) -> str:
    """A command as typed on each of these platforms (one notice reaches them all)."""
    return " or ".join(sorted({show(p, command_line) for p in platforms}))


# --- /link ----------------------------------------------------------------------------------


async def link(ctx: Context) -> Reply:
    words = ctx.args.split()
    if not words:
        return await _issue(ctx)
    if words[0] in (CONFIRM, CANCEL):
        code = "".join(words[1:])
        if not code:
            raise UserFacingError(f"Which code? For example {ctx.request.show('link ABCD2345')}.")
        return await (_confirm(ctx, code) if words[0] == CONFIRM else _cancel(ctx, code))
    return await _claim(ctx, ctx.args)


async def _issue(ctx: Context) -> Reply:
    code, expires = await link_codes.issue(ctx.session, ctx.person.id, ctx.now)
    minutes = int((expires - ctx.now).total_seconds() // 60)
    return (
        ReplyBuilder()
        .heading("Link your accounts")
        .para("Your one-time code is ", Span(code, code=True), ".")
        .para(
            f"Within {minutes} minutes, send “link {code}” to this bot on the other "
            f"platform ({_elsewhere(ctx, ' or ')}). That account will be shown your name and "
            "accounts and asked to confirm; then your groups, subscriptions and accepted rules "
            "apply to both accounts. Admin rights stay with the account they were given to."
        )
        .para(
            "Do not share the code: whoever enters and confirms it joins their account to "
            "yours. You will be told here when an account is linked."
        )
        .build(private=True)
    )


@dataclass(frozen=True)
class _Checked:
    code: link_codes.CodeRecord
    owner: PersonName
    theirs: list[IdentityRecord]  # the issuer's accounts
    mine: list[IdentityRecord]  # the accounts of the person typing the code


def _invalid(ctx: Context) -> UserFacingError:
    return UserFacingError(
        "That code is not valid: it may have expired (codes last 10 minutes) or been used. "
        f"Send {ctx.request.show('link')} on the other platform for a new one."
    )


def _taken(ctx: Context) -> UserFacingError:
    return UserFacingError(
        "Another account has already entered that code. Ask the person who sent it for a new "
        f"one ({ctx.request.show('link')} gives a new code and cancels this one)."
    )


async def _check(ctx: Context, code: str) -> _Checked:
    """The code and both sides, if linking them is possible at all right now."""
    found = await link_codes.find(ctx.session, code, ctx.now)
    owner = await people.person_name(ctx.session, found.person_id) if found is not None else None
    if found is None or owner is None or owner.forgetting:
        raise _invalid(ctx)
    if found.person_id == ctx.person.id:
        raise UserFacingError("These accounts are already linked.")
    if found.claimed_by not in (None, ctx.identity_id):
        raise _taken(ctx)
    theirs = await people.identities_of(ctx.session, found.person_id)
    mine = await people.identities_of(ctx.session, ctx.person.id)
    here = ctx.request.user.platform
    if here in {i.platform for i in theirs}:
        raise UserFacingError(
            f"That code belongs to someone who already has a {here} account here. "
            "Enter it on the other platform."
        )
    both = sorted({i.platform for i in theirs} & {i.platform for i in mine})
    if both:
        raise UserFacingError(
            f"You and the code's owner both have a {both[0]} account here, and a person has "
            f"one account per platform. To link anyway, first unlink yours "
            f"({ctx.request.show('unlink ' + both[0])})."
        )
    return _Checked(found, owner, theirs, mine)


async def _claim(ctx: Context, code: str) -> Reply:
    """Reserve the code for this account and show whose account it would join; no link yet."""
    checked = await _check(ctx, code)
    if not await link_codes.claim(ctx.session, checked.code.code, ctx.identity_id, ctx.now):
        raise _taken(ctx)  # another account claimed it a moment ago
    name = checked.owner.display_name or "(no name)"
    minutes = max(1, int((checked.code.expires_at - ctx.now).total_seconds() // 60))
    code = checked.code.code
    items = []
    for identity in checked.theirs:
        shown = identity.display_name
        extra = f" (shown as {shown})" if shown and shown != checked.owner.display_name else ""
        items.append((bold(account_label(identity)), Span(extra)))
    return (
        ReplyBuilder()
        .heading("Link this account?")
        .para("The code ", Span(code, code=True), " belongs to ", bold(name), ". Their accounts:")
        .bullets(items)
        .para(
            f"Linking makes this account ({account_label(_this(ctx, checked.mine))}) and "
            "theirs one person to the bridge: the groups, subscriptions and accepted rules of "
            "each apply to both, and each account is invited to the other's group chats. "
            "Admin rights do not pass between accounts: each keeps only its own."
        )
        .para(
            f"Say yes only if that account is yours too, within {minutes} minutes (then the "
            f"code expires). You can undo it later with {ctx.request.show('unlink')}."
        )
        .buttons(
            Button("Yes, link them", f"link {CONFIRM} {code}"),
            Button("Cancel", f"link {CANCEL} {code}"),
        )
        .build(private=True)
    )


def _this(ctx: Context, mine: list[IdentityRecord]) -> IdentityRecord:
    return next(i for i in mine if i.id == ctx.identity_id)


async def _confirm(ctx: Context, code: str) -> Reply:
    found = await link_codes.find(ctx.session, code, ctx.now)
    if found is None:
        raise _invalid(ctx)
    if found.claimed_by is None:
        return await _claim(ctx, code)  # not entered yet: show whose it is, link nothing
    if found.claimed_by != ctx.identity_id:
        raise UserFacingError(
            "Only the account that entered this code can confirm it. Nothing was linked."
        )
    checked = await _check(ctx, code)  # things may have changed since the code was entered
    if not await link_codes.use(ctx.session, found.code, ctx.identity_id, ctx.now):
        raise _invalid(ctx)
    owner, here = found.person_id, ctx.request.user.platform
    theirs = {i.platform for i in checked.theirs}
    mine = {i.platform for i in checked.mine}
    # Told before the merge, so the notice goes to the issuer's accounts only.
    await notify_person(
        ctx.session,
        owner,
        _linked_notice(checked.mine, theirs),
        title="Accounts linked",
    )
    owner_groups = await _active_groups(ctx.session, owner)
    my_groups = await _active_groups(ctx.session, ctx.person.id)
    await linking.merge(ctx.session, keep_id=owner, merge_id=ctx.person.id)
    # Memberships now apply to both sides: each account is invited to the chats of the
    # groups only the other side was in (it is already in its own).
    invites = 0
    for membership in await store_groups.memberships_of(ctx.session, owner):
        group = ctx.settings.group(membership.group_slug)
        if group is None or membership.status != store_groups.ACTIVE:
            continue
        wanted: set[str] = set()
        if group.slug not in my_groups:
            wanted |= mine
        if group.slug not in owner_groups:
            wanted |= theirs
        if wanted:
            invites += await queue_chat_changes(
                ctx.session,
                group=group,
                person_id=owner,
                kind=chat_actions.INVITE,
                platforms=wanted,
            )
    await audit.record(
        ctx.session,
        actor_id=owner,
        action="person.link",
        platform=here,
        platforms=sorted(mine),
        linked_to=sorted(theirs),
    )
    # The owner's name as the merge left it (it fills in a missing name from the merged side).
    merged = await people.person_name(ctx.session, owner)
    builder = ReplyBuilder().para(
        bold("Linked. "),
        f"This account and {(merged.display_name if merged else '') or 'the other'}'s "
        f"({_labels(checked.theirs)}) are now one person to the bridge.",
    )
    if invites:
        builder.para("I will send you invitations to your groups' chats you are not in yet.")
    builder.para(
        "Admin rights stay with the account they were given to. To undo this, send "
        f"{ctx.request.show('unlink')}."
    )
    return builder.build(private=True)


def _linked_notice(linked: list[IdentityRecord], platforms: set[str]) -> Reply:
    undo = "; ".join(_typed(platforms, f"unlink {i.platform}") for i in linked)
    return (
        ReplyBuilder()
        .para(
            bold("Account linked. "),
            f"{_labels(linked, named=True)} {'is' if len(linked) == 1 else 'are'} now linked "
            "to your account.",
        )
        .para(
            "Your groups, subscriptions and accepted rules apply to both. Admin rights stay "
            "with the account they were given to."
        )
        .para(f"If this was not you, undo it now: {undo}.")
        .build(private=True)
    )


async def _cancel(ctx: Context, code: str) -> Reply:
    if await link_codes.release(ctx.session, code, ctx.identity_id):
        message = "Cancelled: nothing was linked."
    else:
        message = "There is nothing to cancel: this account is not linking with that code."
    return ReplyBuilder().para(message).build(private=True)


async def _active_groups(session: AsyncSession, person_id: int) -> set[str]:
    memberships = await store_groups.memberships_of(session, person_id)
    return {m.group_slug for m in memberships if m.status == store_groups.ACTIVE}


# --- /unlink ----------------------------------------------------------------------------------


async def unlink(ctx: Context) -> Reply:
    """`/unlink` lists your accounts; `/unlink PLATFORM` parts one; an admin's
    `/unlink PLATFORM:USER_ID` parts anyone's."""
    wanted = ctx.args.strip()
    if not wanted:
        return await _accounts(ctx)
    mine = await people.identities_of(ctx.session, ctx.person.id)
    if ":" in wanted:
        return await _unlink_key(ctx, wanted, mine)
    platform = wanted.casefold()
    known = platforms.registered()
    if platform not in known:
        example = next((s.name for s in known.values() if s.public), platform)
        raise UserFacingError(
            f"There is no platform “{wanted[:30]}”: use one of {', '.join(known)}, "
            f"e.g. {ctx.request.show('unlink ' + example)}."
        )
    on_it = [i for i in mine if i.platform == platform]
    if not on_it:
        raise UserFacingError(
            f"You have no {platform} account linked. Send {ctx.request.show('unlink')} to "
            "see your accounts."
        )
    if len(on_it) > 1:
        keys = ", ".join(ctx.request.show(f"unlink {i.platform}:{i.external_id}") for i in on_it)
        raise UserFacingError(f"You have {len(on_it)} {platform} accounts; say which: {keys}.")
    return await _unlink_own(ctx, on_it[0], mine)


async def _unlink_key(ctx: Context, key: str, mine: list[IdentityRecord]) -> Reply:
    """`PLATFORM:USER_ID`: one of your own accounts, or (admins) anyone's."""
    try:
        platform, user_id = parse_user_key(key)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from None
    own = [i for i in mine if (i.platform, i.external_id) == (platform, user_id)]
    if own:
        return await _unlink_own(ctx, own[0], mine)
    if not ctx.is_admin:
        raise UserFacingError(
            "Only network admins can unlink someone else's account. "
            f"Send {ctx.request.show('unlink')} to see yours."
        )
    message = await admin_unlink(
        ctx.session, platform=platform, external_id=user_id, actor_id=ctx.person.id
    )
    return ReplyBuilder().para(message).build(private=True)


def _only_account(ctx: Context) -> Reply:
    return (
        ReplyBuilder()
        .para(
            "This is your only account here, so there is nothing to unlink. To join an "
            f"account on another platform to this one, send {ctx.request.show('link')}."
        )
        .build(private=True)
    )


async def _accounts(ctx: Context) -> Reply:
    mine = await people.identities_of(ctx.session, ctx.person.id)
    if len(mine) < 2:
        return _only_account(ctx)
    builder = ReplyBuilder().heading("Your linked accounts")
    builder.bullets(
        [
            (bold(account_label(i)), Span(" (this account)" if i.id == ctx.identity_id else ""))
            for i in mine
        ]
    )
    builder.para(
        "Unlinking makes an account a person of its own again: it keeps a copy of the groups, "
        "subscriptions and accepted rules you have now, and from then on each account's "
        "choices are its own. Admin rights stay with the account they were given to."
    )
    itself = ctx.request.show(f"unlink {ctx.request.user.platform}")
    builder.para(f"To unlink this account itself, send {itself}.")
    for identity in mine:
        if identity.id == ctx.identity_id:
            continue
        alike = sum(1 for i in mine if i.platform == identity.platform)
        target = identity.platform if alike == 1 else f"{identity.platform}:{identity.external_id}"
        builder.buttons(Button(f"Unlink {account_label(identity)}", f"unlink {target}"))
    return builder.build(private=True)


async def _unlink_own(ctx: Context, identity: IdentityRecord, mine: list[IdentityRecord]) -> Reply:
    if len(mine) < 2:
        return _only_account(ctx)
    parted = await _detach(ctx.session, identity, mine, actor_id=ctx.person.id, by_admin=False)
    # The side that did not ask hears of it; the one that asked reads the answer here.
    other_side = parted.new_person_id if identity.id != ctx.identity_id else ctx.person.id
    await notify_person(
        ctx.session, other_side, parted.notice(by_admin=False), title="Accounts unlinked"
    )
    return (
        ReplyBuilder()
        .para(
            bold("Unlinked. "),
            f"{account_label(identity)} is now separate from {_labels(parted.remaining)}.",
        )
        .para(
            "Each keeps the groups, subscriptions and accepted rules you had; from now on each "
            "account's choices are its own."
        )
        .build(private=True)
    )


@dataclass(frozen=True)
class _Parted:
    detached: IdentityRecord
    remaining: list[IdentityRecord]
    new_person_id: int

    def notice(self, *, by_admin: bool) -> Reply:
        builder = ReplyBuilder()
        if by_admin:
            builder.para("A network admin has unlinked your accounts.")
        platforms = {self.detached.platform} | {i.platform for i in self.remaining}
        return (
            builder.para(
                bold("Accounts unlinked. "),
                f"{account_label(self.detached)} is no longer linked to {_labels(self.remaining)}.",
            )
            .para(
                "Each keeps the groups, subscriptions and accepted rules it had; from now on "
                "each account's choices are its own. To link them again, send "
                f"{_typed(platforms, 'link')} on one and enter the code on the other."
            )
            .build(private=True)
        )


async def _detach(
    session: AsyncSession,
    identity: IdentityRecord,
    accounts: list[IdentityRecord],
    *,
    actor_id: int | None,
    by_admin: bool,
) -> _Parted:
    person_id = identity.person_id
    remaining = [i for i in accounts if i.id != identity.id]
    new_person_id = await linking.detach(session, identity.id)
    await audit.record(
        session,
        actor_id=actor_id,
        action="person.unlink",
        platform=identity.platform,
        who=f"{identity.platform}:{identity.external_id}",
        remaining=sorted({i.platform for i in remaining}),
        person=person_id,
        new_person=new_person_id,
        by_admin=by_admin,
    )
    return _Parted(identity, remaining, new_person_id)


async def admin_unlink(
    session: AsyncSession, *, platform: str, external_id: str, actor_id: int | None
) -> str:
    """An admin parts one account from the person it is linked to (chat or CLI, where
    `actor_id` is None); both sides are told. Raises UserFacingError when there is nothing
    to unlink."""
    key = f"{platform}:{external_id}"
    identity = await people.find_identity(session, platform, external_id)
    if identity is None:
        raise UserFacingError(f"No account {key} has used the bot.")
    accounts = await people.identities_of(session, identity.person_id)
    if len(accounts) < 2:
        raise UserFacingError(
            f"{key} ({account_label(identity)}) is not linked to another account."
        )
    old_person = identity.person_id
    parted = await _detach(session, identity, accounts, actor_id=actor_id, by_admin=True)
    notice = parted.notice(by_admin=True)
    for person_id in (old_person, parted.new_person_id):
        await notify_person(session, person_id, notice, title="Accounts unlinked")
    return (
        f"Unlinked {key} ({account_label(identity)}) from {_labels(parted.remaining)}: "
        "each is now a person of its own, and both were told."
    )


COMMANDS = [
    Command(
        "link",
        "Link your accounts on two platforms with a one-time code",
        link,
        usage="link [CODE]",
    ),
    Command(
        "unlink",
        "See your linked accounts and unlink one",
        unlink,
        usage="unlink [PLATFORM]",
    ),
]
