"""/digest preview [AUDIENCE] and /digest send [AUDIENCE|all], for admins.

The preview is the very reply that would be queued. `digest send` queues the next edition
early (audited as `digest.send_early`); the scheduled run for that month then finds its key
taken and sends nothing.
"""

from __future__ import annotations

from ccin_bridge.handlers import digest
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.digest import edition_moment, month_name, next_edition
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.plural import plural
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, text
from ccin_bridge.store import audiences, audit
from ccin_bridge.store.subscriptions import digest_topic

ALL = "all"  # `/digest send all`: every audience's digest


def _choose(ctx: Context, action: str, *, every: bool = False) -> Reply:
    builder = ReplyBuilder().para(f"Which audience's digest do you want to {action}?")
    for audience in ctx.settings.audiences:
        builder.buttons(Button(audience.name, f"digest {action} {audience.slug}"))
    if every:
        builder.buttons(Button("Every audience", f"digest {action} {ALL}"))
    return builder.build()


async def digest_command(ctx: Context) -> Reply | list[Reply]:
    action, _, rest = ctx.args.partition(" ")
    action = action.casefold()
    if action not in ("preview", "send"):
        raise UserFacingError(
            f"Use {ctx.request.show('digest preview [audience]')} or "
            f"{ctx.request.show('digest send [audience|all]')}."
        )
    if not ctx.settings.audiences:
        raise UserFacingError("No audiences are configured, so there is no digest to send.")
    if action == "preview":
        if not rest.strip():
            return _choose(ctx, "preview")
        return await _preview(ctx, digest.find_audience(ctx.settings, rest))
    if not rest.strip():
        # Never every audience by default: a line whose audience cleaned away to nothing
        # (an invisible character) must not send them all. `all` says so in words.
        return _choose(ctx, "send", every=True)
    if rest.strip().casefold() == ALL and not _is_audience(ctx, ALL):
        return [await _send(ctx, a.slug) for a in ctx.settings.audiences]
    return [await _send(ctx, digest.find_audience(ctx.settings, rest))]


def _is_audience(ctx: Context, given: str) -> bool:
    return any(given in (a.slug, a.name.casefold()) for a in ctx.settings.audiences)


async def _preview(ctx: Context, audience: str) -> list[Reply]:
    edition = next_edition(ctx.settings, ctx.now)
    sent = await digest.sent_push_id(ctx.session, audience, edition)
    note = ReplyBuilder()
    if sent is not None:
        note.para(
            f"The {month_name(edition)} edition was already sent early (push #{sent}). "
            "This is what the next one would carry so far."
        )
        edition = digest.add_months(edition, 1)
    composed = await digest.compose(
        ctx.session, ctx.settings, audience, now=ctx.now, edition=edition
    )
    readers = await audiences.topic_targets(ctx.session, digest_topic(audience))
    when = edition_moment(ctx.settings, edition)
    note.para(
        f"Preview: the {month_name(edition)} digest for "
        f"{digest.audience_name(ctx.settings, audience)}, due {when:%-d %B at %H:%M}, "
        f"to {plural(len(readers), 'subscribed chat')}. It would carry "
        f"{plural(len(composed.news_ids), 'news item')}. Exactly as it would be sent:"
    )
    if sent is None:
        note.buttons(Button("Send it now", f"digest send {audience}"))
    return [note.build(private=True), composed.reply]


async def _send(ctx: Context, audience: str) -> Reply:
    edition = next_edition(ctx.settings, ctx.now)
    name = digest.audience_name(ctx.settings, audience)
    result = await digest.send(
        ctx.session,
        ctx.settings,
        audience,
        now=ctx.now,
        edition=edition,
        created_by=ctx.person.id,
    )
    if result.push_id is None:
        following = edition_moment(ctx.settings, digest.add_months(edition, 1))
        return text(
            f"The {month_name(edition)} digest for {name} was sent already; nothing was queued. "
            f"The next one is due {following:%-d %B %Y}."
        )
    await audit.record(
        ctx.session,
        actor_id=ctx.person.id,
        action="digest.send_early",
        push_id=result.push_id,
        audience=audience,
        edition=f"{edition:%Y-%m}",
        recipients=result.recipients,
    )
    return (
        ReplyBuilder()
        .para(
            f"Queued the {month_name(edition)} digest for {name} (push #{result.push_id}) "
            f"to {plural(result.recipients, 'chat')}. The scheduled one on "
            f"{edition_moment(ctx.settings, edition):%-d %B} will be skipped."
        )
        .para("You will get a delivery report here when it has gone out.")
        .buttons(Button("Delivery report", f"deliveries {result.push_id}"))
        .build()
    )


COMMANDS = [
    Command(
        "digest",
        "Preview or send the monthly digest early",
        digest_command,
        usage="digest preview [audience] | digest send [audience|all]",
        admin_only=True,
    ),
]
