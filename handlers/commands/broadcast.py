"""/broadcast (admins): audience -> text -> preview -> Send or Cancel; /deliveries [PUSH_ID].

Direct forms: `broadcast AUDIENCE TEXT...` shows the preview with buttons, and
`broadcast AUDIENCE --send TEXT...` queues at once (Slack's modal, after its own preview).
The pending broadcast waits in the flow state, so the Send button carries no text and a
second press finds nothing left to send.
"""

from __future__ import annotations

from typing import Any

from ccin_bridge.handlers import broadcasts, flow
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.delivery_report import report_lines
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, text
from ccin_bridge.store import conversations, outbox

AUDIENCE, TEXT, CONFIRM = "audience", "text", "confirm"
SEND, CONFIRM_FLAG = "--send", "--confirm"


def _cancel_hint(ctx: Context) -> str:
    return f"(Send {ctx.request.show('cancel')} to stop.)"


async def broadcast(ctx: Context) -> Reply:
    step = flow.step_of(ctx)
    if step is not None:
        data = dict(ctx.conversation.data) if ctx.conversation else {}
        return await _answer(ctx, step, data)
    if ctx.args.casefold() == CONFIRM_FLAG:
        return await _confirm(ctx)
    # The text may start on a new line after the audience: split at any whitespace.
    first, rest = [*ctx.args.split(maxsplit=1), "", ""][:2]
    rest = rest.strip()
    if not rest and not ctx.request.chat.is_private:
        # The next step is typed text, which only a private chat passes back to a flow.
        return text(
            f"Let's do this in a private chat: send me {ctx.request.show('broadcast')} there, "
            f"or give it all at once: {ctx.request.show('broadcast AUDIENCE TEXT')}."
        )
    if not ctx.args:
        await flow.begin(ctx, AUDIENCE)
        return _ask_audience(ctx)
    audience = broadcasts.find_audience(ctx.settings, first)
    if rest.startswith(SEND):
        message = broadcasts.check_text(rest.removeprefix(SEND))
        return await _queue(ctx, audience, message, key=None)
    if not rest:
        await flow.begin(ctx, TEXT, {"audience": audience})
        return _ask_text(ctx, audience)
    return await _preview(ctx, audience, broadcasts.check_text(rest))


def _ask_audience(ctx: Context, problem: str | None = None) -> Reply:
    builder = ReplyBuilder()
    if problem:
        builder.para(problem)
    builder.para(f"Who should get this broadcast? {_cancel_hint(ctx)}")
    for slug, name in broadcasts.choices(ctx.settings):
        builder.buttons(Button(name, f"broadcast {slug}"))
    return builder.build()


def _ask_text(ctx: Context, audience: str, problem: str | None = None) -> Reply:
    builder = ReplyBuilder()
    if problem:
        builder.para(problem)
    label = broadcasts.audience_label(ctx.settings, audience)
    return builder.para(
        f"Send me the text of the broadcast to {label}. You will see a preview before "
        f"anything is sent. {_cancel_hint(ctx)}"
    ).build()


async def _answer(ctx: Context, step: str, data: dict[str, Any]) -> Reply:
    if step == AUDIENCE:
        try:
            audience = broadcasts.find_audience(ctx.settings, ctx.args)
        except UserFacingError as problem:
            return _ask_audience(ctx, problem.reason)
        await flow.advance(ctx, TEXT, {"audience": audience})
        return _ask_text(ctx, audience)
    if step == TEXT:
        try:
            message = broadcasts.check_text(ctx.args)
        except UserFacingError as problem:
            return _ask_text(ctx, data["audience"], problem.reason)
        return await _preview(ctx, data["audience"], message)
    if step == CONFIRM and ctx.args.casefold() in ("send", "yes"):
        return await _confirm(ctx)
    if step == CONFIRM:
        return _confirm_buttons(
            ReplyBuilder().para(f"Press Send to send it, or Cancel. {_cancel_hint(ctx)}")
        )
    await flow.end(ctx)
    return text(f"That step has expired. Please start again with {ctx.request.show('broadcast')}.")


def _confirm_buttons(builder: ReplyBuilder) -> Reply:
    # Private: in a shared channel only the admin sees a broadcast before it is sent.
    return builder.buttons(
        Button("Send", f"broadcast {CONFIRM_FLAG}", "confirm"), Button("Cancel", "cancel", "cancel")
    ).build(private=True, kind="preview")


async def _preview(ctx: Context, audience: str, message: str) -> Reply:
    await flow.begin(ctx, CONFIRM, {"audience": audience, "text": message})
    recipients = broadcasts.chat_count(await broadcasts.targets(ctx.session, audience))
    label = broadcasts.audience_label(ctx.settings, audience)
    builder = ReplyBuilder().heading(f"Preview: broadcast to {label}")
    sample = broadcasts.compose(ctx.settings, audience, message)
    builder.blocks.extend(sample.blocks)
    if recipients:
        builder.para(bold(f"It would go to {recipients} chat(s)."), Span(" Send it?"))
    else:
        builder.para(
            bold("Nobody is subscribed to this audience yet"), Span(", so no one would get it.")
        )
    return _confirm_buttons(builder)


async def _confirm(ctx: Context) -> Reply:
    state = ctx.conversation or await conversations.current(ctx.session, ctx.identity_id, ctx.now)
    if state is None or state.command != "broadcast" or state.step != CONFIRM:
        return text("There is no broadcast waiting to be sent; it was sent or cancelled already.")
    # One key per preview: a second press (or a retried request) cannot queue it twice.
    key = f"broadcast:{ctx.identity_id}:{state.updated_at.isoformat()}"
    await flow.end(ctx)
    return await _queue(ctx, state.data["audience"], state.data["text"], key=key)


async def _queue(ctx: Context, audience: str, message: str, *, key: str | None) -> Reply:
    queued = await broadcasts.queue(
        ctx.session,
        ctx.settings,
        audience=audience,
        text=message,
        created_by=ctx.person.id,
        key=key,
    )
    if queued.push_id is None:
        return text("That broadcast was queued already; nothing more was sent.")
    if queued.recipients == 0:
        # No delivery will ever settle, so no report would come: say so now.
        label = broadcasts.audience_label(ctx.settings, audience)
        return text(
            f"Broadcast #{queued.push_id} is recorded, but nobody is subscribed to {label} "
            "yet, so it was not sent to anyone."
        )
    return (
        ReplyBuilder()
        .para(
            f"Queued broadcast #{queued.push_id} to {queued.recipients} chat(s). "
            "You will get a delivery report here when it has gone out."
        )
        .buttons(Button("Delivery report", f"deliveries {queued.push_id}"))
        .build()
    )


# --- delivery reports ------------------------------------------------------------------------


async def deliveries(ctx: Context) -> Reply:
    if not ctx.args:
        return await _recent(ctx)
    given = ctx.args.removeprefix("#")
    if not given.isdigit():
        raise UserFacingError(f"Give a push number, e.g. {ctx.request.show('deliveries 12')}.")
    report = await outbox.report(ctx.session, int(given))
    if report is None:
        raise UserFacingError(f"There is no push #{given}.")
    builder = ReplyBuilder().heading(
        f"Delivery report #{report.push_id}: {report.title or report.kind}"
    )
    builder.para(
        f"{report.kind}, queued {report.created_at.astimezone(ctx.settings.zone):%-d %b %Y %H:%M}"
        + (f", audience {report.audience}" if report.audience else "")
        + ("" if report.finished else "; still going out")
    )
    if report.total == 0:
        builder.para("It had no recipients.")
    else:
        builder.para(f"{report.total} recipient chat(s):").bullets(report_lines(report))
    if report.errors:
        builder.para("Problems:").bullets(
            [(Span(f"{p} {chat}: {error}"),) for p, chat, error in report.errors]
        )
    if not report.finished:
        builder.buttons(Button("Refresh", f"deliveries {report.push_id}"))
    return builder.build(private=True)


async def _recent(ctx: Context) -> Reply:
    pushes = await outbox.recent_pushes(ctx.session, limit=10)
    if not pushes:
        return text("Nothing has been sent yet.")
    builder = ReplyBuilder().heading("Recent pushes")
    builder.bullets(
        [(bold(f"#{p.id}"), Span(f" {p.kind}: {p.title or '(untitled)'}")) for p in pushes]
    )
    for p in pushes:
        builder.buttons(Button(f"Report #{p.id}", f"deliveries {p.id}"))
    return builder.build(private=True)


COMMANDS = [
    Command(
        "broadcast",
        "Send a message to an audience (preview first)",
        broadcast,
        usage="broadcast [audience] [text]",
        admin_only=True,
        free_text=True,
    ),
    Command(
        "deliveries",
        "Delivery report of a broadcast or digest",
        deliveries,
        usage="deliveries [push id]",
        admin_only=True,
        read_only=True,
    ),
]
