"""/admins: who the network's admins are, and `admin grant` / `admin revoke` from chat (and
the web console's Admins page), the same change and audit entry as `ccin-bridge admin`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers import platforms
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.identity import parse_user_key
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic
from ccin_bridge.store import admins as store_admins
from ccin_bridge.store import audit, people
from ccin_bridge.store.admins import AdminRow

USAGE = "admin grant PLATFORM:USER_ID"


async def change_admin(
    session: AsyncSession,
    key: str,
    *,
    grant: bool,
    actor_id: int | None,
    config_admins: list[str],
    self_key: str | None = None,
    network_only: bool = False,
) -> str:
    """Grant or revoke the store's admin right on one account (`actor_id` None: the command
    line), audited as `admin.grant` / `admin.revoke`; what happened, in a sentence. Raises
    UserFacingError for a key that names no account a platform could have, or a right that
    config gives (only config.yaml takes that back). `self_key`: the account asking, which
    cannot revoke its own right however the key is spelt (`telegram:0900000001`).
    `network_only` (chat and the console): rights are granted only on platforms people reach
    over the network; a local one's accounts are the server operator's to grant."""
    try:
        platform, user_id = parse_user_key(key)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from None
    key = f"{platform}:{user_id}"
    if not grant and self_key is not None and key == _canonical(self_key):
        raise UserFacingError(
            "You cannot revoke your own rights: another admin can, or "
            "`ccin-bridge admin revoke` on the server."
        )
    spec = platforms.registered()[platform]
    if grant and network_only and not spec.public:
        raise UserFacingError(
            f"{spec.label} accounts are local to the server, not people on the network: "
            "admin rights are granted here only on a network platform (`ccin-bridge admin "
            "grant` on the server grants one there); nothing changed."
        )
    if not grant and key in config_admins:
        raise UserFacingError(
            f"{key} is an admin by config (`admins` in config.yaml): take it out there; "
            "nothing changed."
        )
    changed = await people.set_admin(
        session, platform=platform, external_id=user_id, is_admin=grant
    )
    if changed is None:
        return f"{key} is not an admin (the bridge has never seen that account): nothing changed."
    action = store_admins.GRANT if grant else store_admins.REVOKE
    await audit.record(session, actor_id=actor_id, action=action, who=key)
    return f"{key} is {'now' if grant else 'no longer'} an admin."


def _canonical(key: str) -> str:
    try:
        platform, user_id = parse_user_key(key)
    except ValueError:
        return key.strip()
    return f"{platform}:{user_id}"


async def admins(ctx: Context) -> Reply:
    words = ctx.args.split()
    if not words or words[0].casefold() == "list":
        return await _listing(ctx)
    what = words[0].casefold()
    if what not in ("grant", "revoke") or len(words) != 2:
        raise UserFacingError(
            f"Try {ctx.request.show(USAGE)} or {ctx.request.show('admin revoke PLATFORM:USER_ID')}."
        )
    said = await change_admin(
        ctx.session,
        words[1],
        grant=what == "grant",
        actor_id=ctx.person.id,
        config_admins=ctx.settings.admins,
        self_key=ctx.request.user.key,
        network_only=True,
    )
    return ReplyBuilder().para(said).build(private=True)


async def _listing(ctx: Context) -> Reply:
    rows = await store_admins.admins(ctx.session, ctx.settings.admins)
    names = await people.display_names(
        ctx.session, {r.granted_by for r in rows if r.granted_by is not None}
    )
    builder = ReplyBuilder().heading(f"Admins ({len(rows)})")
    if not rows:
        return builder.para("There are no admins yet.").build(private=True)
    builder.bullets([_line(ctx, row, names) for row in rows])
    revocable = [
        r for r in rows if r.by_grant and not r.by_config and r.key != ctx.request.user.key
    ]
    for row in revocable:
        builder.buttons(Button(f"Revoke {row.key}", f"admin revoke {row.key}", "decline"))
    builder.para(italic(f"Grant with {ctx.request.show(USAGE)}."))
    return builder.build(private=True)


def _line(ctx: Context, row: AdminRow, names: dict[int, str]) -> tuple[Span, ...]:
    who = row.name or "not met yet"
    if row.username:
        who += f" (@{row.username})"
    how = []
    if row.by_config:
        how.append("in config")
    if row.by_grant:
        if row.granted_at is None:
            how.append("granted")
        else:
            by = names.get(row.granted_by, "an admin") if row.granted_by else "the command line"
            day = row.granted_at.astimezone(ctx.settings.zone)
            how.append(f"granted by {by} on {day:%d %b %Y}")
    return (bold(row.key), Span(f": {who}; {', '.join(how)}"))


COMMANDS = [
    Command(
        "admins",
        "The network's admins; grant or revoke an account's admin rights",
        admins,
        usage="admins | admin grant|revoke PLATFORM:USER_ID",
        admin_only=True,
        aliases=("admin",),
    ),
]
