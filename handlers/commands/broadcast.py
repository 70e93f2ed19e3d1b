"""/broadcast (admins): audience -> text -> preview -> Send or Cancel; /deliveries [PUSH_ID].

The guided form is a declared flow (`BROADCAST`, handlers/flow.py): its steps ask for the
audience (a choice among the audiences), the text (up to 3,500 characters, line breaks kept)
and a yes to the preview. Slack's modal is built from the same steps and submitted through
them (bots/slack/modals.py). Direct forms: `broadcast AUDIENCE TEXT...` shows the preview with
buttons, and `broadcast AUDIENCE --send TEXT...` queues at once. The pending broadcast waits in
the flow state, so the Send button carries no text and a second press finds nothing left to
send.
"""

from __future__ import annotations

from datetime import datetime

from ccin_bridge.handlers import broadcasts, flow
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.delivery_report import one_line, report_lines
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.plural import plural
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, text
from ccin_bridge.store import outbox

AUDIENCE, TEXT, CONFIRM = "audience", "text", "confirm"
SEND, CONFIRM_FLAG = "--send", "--confirm"
NOTHING_WAITING = "There is no broadcast waiting to be sent; it was sent or cancelled already."


class BroadcastState(flow.State):
    """What the admin has chosen so far (stored as today's `{"audience", "text"}`)."""

    audience: str | None = None
    text: str | None = None


def _cancel_hint(ctx: Context) -> str:
    return f"(Send {ctx.request.show('cancel')} to stop.)"


async def broadcast(ctx: Context) -> list[Reply]:
    form = flow.submitted_form(ctx)
    if form is not None:  # Slack's modal, submitted through the same steps
        return await BROADCAST.take_form(ctx, form, BroadcastState())
    if ctx.conversation is not None:
        return await BROADCAST.reply(ctx)
    if ctx.args.casefold() == CONFIRM_FLAG:
        return await BROADCAST.confirm(ctx, missing=text(NOTHING_WAITING))
    # The text may start on a new line after the audience: split at any whitespace.
    first, rest = [*ctx.args.split(maxsplit=1), "", ""][:2]
    rest = rest.strip()
    if not rest and not ctx.request.chat.is_private:
        # The next step is typed text, which only a private chat passes back to a flow.
        return [
            text(
                f"Let's do this in a private chat: send me {ctx.request.show('broadcast')} "
                f"there, or give it all at once: {ctx.request.show('broadcast AUDIENCE TEXT')}."
            )
        ]
    if not ctx.args:
        return await BROADCAST.start(ctx, BroadcastState())
    if rest.startswith(SEND):
        audience = broadcasts.find_audience(ctx.settings, first)
        message = broadcasts.check_text(rest.removeprefix(SEND))
        return [await _queue(ctx, audience, message, key=None)]
    answers = {AUDIENCE: first, TEXT: rest} if rest else {AUDIENCE: first}
    return await BROADCAST.start(ctx, BroadcastState(), answers)


# --- the steps ----------------------------------------------------------------------------------


def _audiences(env: flow.Env, state: BroadcastState) -> list[flow.Option]:
    return [flow.Option(slug, name) for slug, name in broadcasts.choices(env.settings)]


async def _ask_audience(ctx: Context, state: BroadcastState) -> Reply:
    builder = ReplyBuilder().para(f"Who should get this broadcast? {_cancel_hint(ctx)}")
    for option in _audiences(ctx, state):
        builder.buttons(Button(option.label, f"broadcast {option.value}"))
    return builder.build()


async def _audience(ctx: Context, state: BroadcastState, answer: str) -> BroadcastState:
    return state.model_copy(update={"audience": broadcasts.find_audience(ctx.settings, answer)})


async def _ask_text(ctx: Context, state: BroadcastState) -> Reply:
    label = broadcasts.audience_label(ctx.settings, flow.need(state.audience))
    return (
        ReplyBuilder()
        .para(
            f"Send me the text of the broadcast to {label}. You will see a preview before "
            f"anything is sent. {_cancel_hint(ctx)}"
        )
        .build()
    )


async def _text(ctx: Context, state: BroadcastState, answer: str) -> BroadcastState:
    return state.model_copy(update={"text": broadcasts.check_text(answer)})


def _confirm_buttons(builder: ReplyBuilder) -> Reply:
    # Private: in a shared channel only the admin sees a broadcast before it is sent.
    return builder.buttons(
        Button("Send", f"broadcast {CONFIRM_FLAG}", "confirm"), Button("Cancel", "cancel", "cancel")
    ).build(private=True, kind="preview")


async def _preview(ctx: Context, state: BroadcastState) -> Reply:
    audience, message = flow.need(state.audience), flow.need(state.text)
    recipients = broadcasts.chat_count(await broadcasts.targets(ctx.session, audience))
    label = broadcasts.audience_label(ctx.settings, audience)
    builder = ReplyBuilder().heading(f"Preview: broadcast to {label}")
    sample = broadcasts.compose(ctx.settings, audience, message)
    builder.blocks.extend(sample.blocks)
    if recipients:
        builder.para(bold(f"It would go to {plural(recipients, 'chat')}."), Span(" Send it?"))
    else:
        builder.para(
            bold("Nobody is subscribed to this audience yet"), Span(", so no one would get it.")
        )
    return _confirm_buttons(builder)


async def _press_send(ctx: Context, state: BroadcastState) -> Reply:
    return _confirm_buttons(
        ReplyBuilder().para(f"Press Send to send it, or Cancel. {_cancel_hint(ctx)}")
    )


async def _send(ctx: Context, state: BroadcastState, saved_at: datetime | None) -> Reply:
    # One key per preview: a second press (or a retried request) cannot queue it twice.
    key = None if saved_at is None else f"broadcast:{ctx.identity_id}:{saved_at.isoformat()}"
    return await _queue(ctx, flow.need(state.audience), flow.need(state.text), key=key)


BROADCAST = flow.Flow(
    command="broadcast",
    state=BroadcastState,
    steps=(
        flow.Step(
            AUDIENCE,
            _ask_audience,
            flow.Choice(_audiences),
            _audience,
            label="Audience",
            placeholder="Who should get it?",
        ),
        flow.Step(
            TEXT,
            _ask_text,
            flow.Text(broadcasts.MAX_TEXT, multiline=True),
            _text,
            label="Message",
        ),
        flow.Step(CONFIRM, _preview, flow.Confirm(("send",), reask=_press_send)),
    ),
    finish=_send,
)


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
            f"Queued broadcast #{queued.push_id} to {plural(queued.recipients, 'chat')}. "
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
        f"Delivery report #{report.push_id}: {one_line(report.title) or report.kind}"
    )
    builder.para(
        f"{report.kind}, queued {report.created_at.astimezone(ctx.settings.zone):%-d %b %Y %H:%M}"
        + (f", audience {report.audience}" if report.audience else "")
        + ("" if report.finished else "; still going out")
    )
    if report.total == 0:
        builder.para("It had no recipients.")
    else:
        builder.para(f"{plural(report.total, 'recipient chat')}:").bullets(report_lines(report))
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
        [
            (bold(f"#{p.id}"), Span(f" {p.kind}: {one_line(p.title) or '(untitled)'}"))
            for p in pushes
        ]
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
