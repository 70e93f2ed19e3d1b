"""/news: submit a news item step by step; admins approve, edit or reject it.

The submission is a declared flow (`NEWS`, handlers/flow.py): a title, the text and a link (or
"skip"), then a preview that submits on confirmation; /cancel stops it at any step, and a bad
answer is explained and asked again. Editing walks the same steps ("keep" keeps a field) and
saves without the preview. Admins get an approval card (Approve / Edit / Reject) through the
outbox, every decision is audited, and the submitter hears the outcome; a rejection asks for
its reason in a one-step flow of its own (`REJECTION`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from ccin_bridge.handlers import flow, reply_codec
from ccin_bridge.handlers.core import Command, Context
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.plural import plural
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, Span, bold, italic, link, text
from ccin_bridge.handlers.requests import MAX_TEXT
from ccin_bridge.store import audiences, audit, news, outbox
from ccin_bridge.store.news import APPROVED, REJECTED, SUBMITTED, NewsRecord

TITLE_MIN, TITLE_MAX = 3, 120
BODY_MIN, BODY_MAX = 10, 480  # a digest item is short; the link carries the rest
URL_MAX = 500
REASON_MAX = 500
TITLE, BODY, LINK, CONFIRM, REASON = "title", "text", "link", "confirm", "reason"
SKIP_WORDS = ("skip", "none", "no", "-")
KEEP = "keep"
SUBMIT = "--submit"


class NewsState(flow.State):
    """A submission or an admin's edit so far (stored as today's keys)."""

    mode: Literal["submit", "edit"] = "submit"
    id: int | None = None  # the item edited
    title: str | None = None
    text: str | None = None
    link: str | None = None


class RejectionState(flow.State):
    id: int
    reason: str | None = None


# --- the submission flow ---------------------------------------------------------------------


async def news_command(ctx: Context) -> Reply | list[Reply]:
    if ctx.conversation is not None:
        return await flow.reply_any(ctx, NEWS, REJECTION)
    first, _, rest = ctx.args.partition(" ")
    word, rest = first.casefold(), rest.strip()
    if word == SUBMIT:
        return await NEWS.confirm(
            ctx,
            missing=text(
                f"There is no news waiting to be submitted. Start with {ctx.request.show('news')}."
            ),
        )
    if word == "review" and not rest:
        return await _admin(ctx, _review)
    if word in ("approve", "reject", "edit"):
        if rest.split(" ", 1)[0].removeprefix("#").isdigit():
            return await _admin(ctx, {"approve": _approve, "reject": _reject, "edit": _edit}[word])
        # No number: for an admin a decision word, explained rather than made a draft; for
        # anyone else the start of a news title ("Edit: our co-op launched ...").
        if ctx.is_admin:
            return await _which_item(ctx)
    return await _start(ctx)


async def _which_item(ctx: Context) -> Reply:
    word = ctx.args.split(" ", 1)[0].casefold()
    raise UserFacingError(
        f"Which news item? Give its number, e.g. {ctx.request.show(f'news {word} 12')}; "
        f"{ctx.request.show('news review')} lists those waiting with their numbers."
    )


def _cancel_hint(ctx: Context) -> str:
    return f"(Send {ctx.request.show('cancel')} to stop.)"


async def _start(ctx: Context) -> list[Reply]:
    if not ctx.request.chat.is_private:
        return [
            text(
                f"Let's do this in a private chat: send me {ctx.request.show('news')} there and "
                "I will ask for the title, text and link."
            )
        ]
    if ctx.args:  # `/news My title` gives the title straight away
        return await NEWS.start(ctx, NewsState(), {TITLE: ctx.args})
    [ask_title] = await NEWS.start(ctx, NewsState())
    intro = (
        ReplyBuilder()
        .heading("Send news for the monthly digest")
        .para("I will ask for a title, a short text and a link, then show you a preview.")
        .build()
    )
    return [Reply((*intro.blocks, *ask_title.blocks), ask_title.buttons)]


def _keep(ctx: Context, state: NewsState) -> str:
    return f" Send “{KEEP}” to keep it as it is." if state.mode == "edit" else ""


def _asks(prompt: Callable[[Context, NewsState], str]) -> flow.Prompt[NewsState]:
    async def ask(ctx: Context, state: NewsState) -> Reply:
        return ReplyBuilder().para(prompt(ctx, state)).build()

    return ask


def _title_prompt(ctx: Context, state: NewsState) -> str:
    now = f" It is now: “{state.title}”." if state.mode == "edit" else ""
    return (
        f"What is the title? (up to {TITLE_MAX} characters){now}{_keep(ctx, state)} "
        f"{_cancel_hint(ctx)}"
    )


def _body_prompt(ctx: Context, state: NewsState) -> str:
    now = f" It is now: “{state.text}”." if state.mode == "edit" else ""
    return (
        f"Now the text: a few sentences, up to {BODY_MAX} characters.{now}{_keep(ctx, state)} "
        f"{_cancel_hint(ctx)}"
    )


def _link_prompt(ctx: Context, state: NewsState) -> str:
    now = f" It is now: {state.link or 'no link'}." if state.mode == "edit" else ""
    return (
        "A link where people can read more (starting with https://), or “skip” for none."
        f"{now}{_keep(ctx, state)} {_cancel_hint(ctx)}"
    )


def _one_line(value: str) -> str:
    # The command takes free text (so a long answer gets this flow's own message, not the
    # generic one), but a title and a digest's short text are single lines.
    return " ".join(value.split())


def _check_title(value: str) -> str:
    value = _one_line(value)
    if len(value) < TITLE_MIN:
        raise UserFacingError(
            f"That title is too short; please use at least {TITLE_MIN} characters."
        )
    if len(value) > TITLE_MAX:
        raise UserFacingError(
            f"That title is {len(value)} characters; please keep it to {TITLE_MAX} or fewer."
        )
    return value


def _check_body(value: str) -> str:
    value = _one_line(value)
    if len(value) < BODY_MIN:
        raise UserFacingError("That is very short; please write a sentence or two.")
    if len(value) > BODY_MAX:
        raise UserFacingError(
            f"That text is {len(value)} characters; please keep it to {BODY_MAX} or fewer "
            "and put the rest behind the link."
        )
    return value


def check_link(value: str) -> str | None:
    value = value.strip()
    if value.casefold() in SKIP_WORDS:
        return None
    parts = None if any(c.isspace() for c in value) else urlsplit(value)
    if (
        parts is None
        or parts.scheme.casefold() not in ("http", "https")
        or "." not in parts.netloc
        or len(value) > URL_MAX
    ):
        raise UserFacingError(
            "That doesn't look like a web link. Please send one starting with https:// "
            "(for example https://example.org/news), or “skip” for none."
        )
    return value


def _field(
    name: Literal["title", "text", "link"], check: Callable[[str], str | None]
) -> flow.Parser[NewsState]:
    """A step's parser: the checked answer into `name`, or, editing, “keep” keeps it."""

    async def parse(ctx: Context, state: NewsState, answer: str) -> NewsState:
        if state.mode == "edit" and answer.casefold() == KEEP:
            return state
        return state.model_copy(update={name: check(answer)})

    return parse


def _item_blocks(builder: ReplyBuilder, title: str, body: str, url: str | None) -> None:
    builder.para(bold(title))
    builder.para(body)
    builder.para(link("Read more", url) if url else italic("No link"))


def _submit_buttons(builder: ReplyBuilder) -> Reply:
    return builder.buttons(
        Button("Submit", f"news {SUBMIT}", "confirm"), Button("Cancel", "cancel", "cancel")
    ).build()


async def _preview(ctx: Context, state: NewsState) -> Reply:
    builder = ReplyBuilder().heading("Preview of your news")
    _item_blocks(builder, flow.need(state.title), flow.need(state.text), state.link)
    builder.para("Submit it to the network's admins for the next digest?")
    return _submit_buttons(builder)


async def _press_submit(ctx: Context, state: NewsState) -> Reply:
    return _submit_buttons(
        ReplyBuilder().para(
            "Press Submit to send it to the admins, or send “submit”. " + _cancel_hint(ctx)
        )
    )


async def _done(ctx: Context, state: NewsState, saved_at: datetime | None) -> Reply:
    if state.mode == "edit":
        return await _save_edit(ctx, state)
    return await _submit(ctx, state)


async def _submit(ctx: Context, state: NewsState) -> Reply:
    item = await news.submit(
        ctx.session,
        person_id=ctx.person.id,
        title=flow.need(state.title),
        body=flow.need(state.text),
        url=state.link,
    )
    await audit.record(ctx.session, actor_id=ctx.person.id, action="news.submit", news_id=item.id)
    await outbox.create_push(
        ctx.session,
        kind="news-review",
        payload=reply_codec.encode(card(item)),
        targets=await audiences.admin_targets(ctx.session, ctx.settings.admins),
        title=f"News #{item.id} for approval",
        subject_id=ctx.person.id,
    )
    return (
        ReplyBuilder()
        .para("Thank you! Your news has gone to the network's admins for approval.")
        .para("You will hear back here; approved news goes into the next monthly digest.")
        .build()
    )


NEWS = flow.Flow(
    command="news",
    state=NewsState,
    steps=(
        flow.Step(
            TITLE,
            _asks(_title_prompt),
            flow.Text(TITLE_MAX),
            _field("title", _check_title),
            label="Title",
        ),
        flow.Step(
            BODY,
            _asks(_body_prompt),
            flow.Text(BODY_MAX),
            _field("text", _check_body),
            label="Text",
        ),
        flow.Step(
            LINK, _asks(_link_prompt), flow.Text(URL_MAX), _field("link", check_link), label="Link"
        ),
        flow.Step(
            CONFIRM,
            _preview,
            flow.Confirm(("submit", "send", "ok"), reask=_press_submit),
            skip=lambda state: state.mode == "edit",  # an admin's edit is saved at once
        ),
    ),
    finish=_done,
)


# --- admins ----------------------------------------------------------------------------------


def card(item: NewsRecord, note: str | None = None) -> Reply:
    """The approval card admins get for a submission, with its decision buttons."""
    builder = ReplyBuilder().heading(f"News #{item.id} for approval")
    if note:
        builder.para(italic(note))
    _item_blocks(builder, item.title, item.body, item.url)
    builder.para(Span(f"Sent by {item.submitter_name}."))
    if item.status == SUBMITTED:
        builder.buttons(
            Button("Approve", f"news approve {item.id}"),
            Button("Edit", f"news edit {item.id}"),
            Button("Reject", f"news reject {item.id}"),
        )
    return builder.build(private=True)


async def _admin(
    ctx: Context, action: Callable[[Context], Awaitable[Reply | list[Reply]]]
) -> Reply | list[Reply]:
    if not ctx.is_admin:
        raise UserFacingError(
            f"{ctx.request.show('news ' + ctx.args.split(' ')[0])} is for network admins only."
        )
    return await action(ctx)


def _id_and_rest(ctx: Context) -> tuple[int, str]:
    _, _, rest = ctx.args.partition(" ")
    number, _, more = rest.strip().partition(" ")
    return int(number.removeprefix("#")), more.strip()


async def _item(ctx: Context, news_id: int) -> NewsRecord:
    item = await news.get(ctx.session, news_id)
    if item is None:
        raise UserFacingError(f"There is no news item #{news_id}.")
    return item


async def _review(ctx: Context) -> list[Reply]:
    waiting = await news.waiting(ctx.session, limit=10)
    if not waiting:
        return [text("No news is waiting for approval.")]
    intro = text(f"{plural(len(waiting), 'news item')} waiting for approval, oldest first:")
    return [intro, *(card(item) for item in waiting)]


async def _approve(ctx: Context) -> Reply:
    news_id, _ = _id_and_rest(ctx)
    return await _decide(ctx, news_id, APPROVED, None)


async def _reject(ctx: Context) -> Reply | list[Reply]:
    news_id, reason = _id_and_rest(ctx)
    item = await _item(ctx, news_id)
    if not reason and item.status == SUBMITTED and ctx.request.chat.is_private:
        return await REJECTION.start(ctx, RejectionState(id=news_id))
    return await _decide(ctx, news_id, REJECTED, reason or None)


async def _ask_reason(ctx: Context, state: RejectionState) -> Reply:
    item = await _item(ctx, state.id)
    return text(
        f"Why is “{item.title}” rejected? I will pass your reason on to "
        f"{item.submitter_name}. Send “skip” to give none. {_cancel_hint(ctx)}"
    )


async def _reason(ctx: Context, state: RejectionState, answer: str) -> RejectionState:
    given = None if answer.casefold() in SKIP_WORDS else answer[:REASON_MAX]
    return state.model_copy(update={"reason": given})


async def _rejected(ctx: Context, state: RejectionState, saved_at: datetime | None) -> Reply:
    return await _decide(ctx, state.id, REJECTED, state.reason)


REJECTION = flow.Flow(
    command="news",
    state=RejectionState,
    # Any message may be the reason (up to a chat message's length); its first 500 are kept.
    steps=(flow.Step(REASON, _ask_reason, flow.Text(MAX_TEXT, multiline=True), _reason),),
    finish=_rejected,
)


async def _decide(ctx: Context, news_id: int, status: str, reason: str | None) -> Reply:
    item = await _item(ctx, news_id)
    decided = await news.decide(
        ctx.session, news_id, status=status, by=ctx.person.id, reason=reason
    )
    if decided is None:
        return text(f"News #{news_id} “{item.title}” was already {item.status}; nothing changed.")
    await audit.record(
        ctx.session,
        actor_id=ctx.person.id,
        action=f"news.{'approve' if status == APPROVED else 'reject'}",
        subject_id=decided.submitted_by,
        news_id=news_id,
        reason=reason,
    )
    if decided.submitted_by is not None:
        await outbox.create_push(
            ctx.session,
            kind="news-outcome",
            payload=reply_codec.encode(_outcome(decided)),
            targets=await audiences.person_targets(ctx.session, decided.submitted_by),
            title=f"News #{news_id} {status}",
            subject_id=decided.submitted_by,
        )
    if status == APPROVED:
        return text(f"Approved news #{news_id} “{decided.title}”: it goes into the next digest.")
    return text(f"Rejected news #{news_id} “{decided.title}”. {decided.submitter_name} is told.")


def _outcome(item: NewsRecord) -> Reply:
    builder = ReplyBuilder()
    if item.status == APPROVED:
        builder.para("Good news: your news “", bold(item.title), "” was approved.")
        builder.para("It will be in the next monthly digest.")
    else:
        builder.para("Your news “", bold(item.title), "” was not accepted for the digest.")
        if item.reason:
            builder.para("The admins said: ", italic(item.reason))
    return builder.build(private=True)


async def _edit(ctx: Context) -> Reply | list[Reply]:
    news_id, _ = _id_and_rest(ctx)
    item = await _item(ctx, news_id)
    if item.status == REJECTED:
        return text(f"News #{news_id} was rejected, so there is nothing to edit.")
    if not ctx.request.chat.is_private:
        return text("Editing asks a few questions: please do it in a private chat with me.")
    state = NewsState(mode="edit", id=news_id, title=item.title, text=item.body, link=item.url)
    return await NEWS.start(ctx, state)


async def _save_edit(ctx: Context, state: NewsState) -> Reply:
    item = await news.edit(
        ctx.session,
        flow.need(state.id),
        title=flow.need(state.title),
        body=flow.need(state.text),
        url=state.link,
    )
    if item is None:
        return text("That news item no longer exists.")
    await audit.record(ctx.session, actor_id=ctx.person.id, action="news.edit", news_id=item.id)
    return card(item, note="Saved your changes.")


COMMANDS = [
    Command(
        "news",
        "Send news for the monthly digest (admins: review, approve, reject, edit)",
        news_command,
        usage="news",
        free_text=True,
    ),
]
