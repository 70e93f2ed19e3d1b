"""Step-by-step flows (news, broadcast, join) declared as data, and the one engine that runs them.

A flow declares its typed state (a frozen pydantic model: `State`) and its ordered steps. Each
`Step` has a name, what it asks (a prompt builder), the kind of answer it takes (`Text` with a
maximum length and whether line breaks are kept, a `Choice` among options given by a function
of the context, or a `Confirm`), a parser turning the answer into the next state, and
optionally a condition to skip it. `Flow` runs any of them:

- `start` begins a flow (answers given with the command fill its first steps; a bad one is
  refused as a plain error, since nothing was asked yet), `resume` asks the step waiting again,
  `reply` takes the person's next plain-text message as the answer to the step waiting,
  `answer` takes an answer to a named step from a button (`join officers --org 12`), and
  `confirm` takes the flow's confirm button;
- a bad answer is explained and the step asked again; a parser may also keep the step with a
  reply of its own (a search that matched several organisations);
- after the last step, `finish` gets the complete state; `end` (and /cancel) stops a flow.

Between messages the state is kept as JSON in the person's conversation row (store/
conversations.py: command, step, data), and validated when read back: an unknown step, a
step that no longer applies, or data the state model does not accept ends the flow with the
flow's `expired` answer ("That step has expired. Please start again with /news.").

A platform's form (Slack's broadcast modal) is built from the same steps (`Flow.form_fields`)
and submitted through them (a `FormSubmitted` event: the flow's command gets it as
`ctx.request.form`): each field is checked by its step's parser, and the flow goes on at the
first step a form does not hold (a `Confirm`: the preview).

`begin`, `end` and `step_of` are the bare helpers under the engine, for a one-step
flow that is not declared (admin's decline reason); `end_any` serves /cancel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ccin_bridge.handlers.config import Settings
from ccin_bridge.handlers.core import Context
from ccin_bridge.handlers.errors import UserFacingError
from ccin_bridge.handlers.forms import Form
from ccin_bridge.handlers.replies import Paragraph, Reply, Span, text
from ccin_bridge.handlers.requests import clean_multiline, clean_text
from ccin_bridge.store import conversations
from ccin_bridge.store.conversations import ConversationRecord

# --- the bare helpers --------------------------------------------------------------------------


async def begin(ctx: Context, step: str, data: dict[str, Any] | None = None) -> None:
    await conversations.save(
        ctx.session, ctx.identity_id, command=ctx.request.command, step=step, data=data or {}
    )


async def end(ctx: Context) -> None:
    await conversations.clear(ctx.session, ctx.identity_id)


async def end_any(ctx: Context) -> bool:
    """End whichever flow is in progress; False if there was none."""
    return await conversations.clear(ctx.session, ctx.identity_id)


def step_of(ctx: Context) -> str | None:
    """The step this message answers, or None if the command was typed afresh."""
    return ctx.conversation.step if ctx.conversation is not None else None


# --- declarations --------------------------------------------------------------------------------


class State(BaseModel):
    """A flow's state: frozen, and nothing but its declared fields (stored as JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


S = TypeVar("S", bound=State)
T = TypeVar("T")

Replies = Reply | list[Reply]
# What a step asks, for the state so far.
Prompt = Callable[[Context, S], Awaitable[Reply]]
# An answer (already cleaned) to the next state; or a reply that keeps the step waiting (the
# answer settled nothing yet). A bad answer raises UserFacingError: it is asked again. A text
# step's parser changes nothing else (the engine may still refuse the answer's length).
Parser = Callable[[Context, S, str], Awaitable[S | Reply]]
# The complete state after the last step; `saved_at` is when the step just answered was saved
# (None when the command itself gave the last answer).
Finish = Callable[[Context, S, datetime | None], Awaitable[Replies]]

YES = "yes"  # a yes to any Confirm step, e.g. a confirm button given as an answer to `start`


class Env(Protocol):
    """What a step's options may depend on: a command's `Context`, or a form's `FormEnv`."""

    @property
    def settings(self) -> Settings: ...

    @property
    def is_admin(self) -> bool: ...


@dataclass(frozen=True)
class FormEnv:
    """The `Env` of a form opened for someone the bridge let run the flow's command."""

    settings: Settings
    is_admin: bool


@dataclass(frozen=True)
class Option:
    value: str  # what a button or a form sends
    label: str  # what people see


@dataclass(frozen=True)
class Text:
    """Free text of at most `max_length` characters (a form declares it; the engine refuses a
    longer answer the step's parser let through). Without `multiline` line breaks become
    spaces."""

    max_length: int
    multiline: bool = False


@dataclass(frozen=True)
class Choice(Generic[S]):
    """One of `options`: typed (the parser reads it), pressed, or a form's select (which may
    send only one of them)."""

    options: Callable[[Env, S], Sequence[Option]]


@dataclass(frozen=True)
class Confirm(Generic[S]):
    """A yes: one of `words` typed (or `YES`), or the flow's confirm button (`Flow.confirm`).
    Anything else gets `reask`, or else the step's prompt again."""

    words: tuple[str, ...] = ()
    reask: Prompt[S] | None = None

    def accepts(self, answer: str) -> bool:
        return answer.strip().casefold() in (YES, *self.words)


@dataclass(frozen=True)
class Step(Generic[S]):
    name: str
    ask: Prompt[S]
    kind: Text | Choice[S] | Confirm[S]
    # How the answer becomes the state. Optional only for a Confirm (a yes changes nothing).
    # Parsers read but never write: a form is checked through them without saving anything.
    parse: Parser[S] | None = None
    # How a pressed option (a button's value) becomes the state, where that differs from text
    # typed at the step (an organisation's id against a search for its name).
    pick: Parser[S] | None = None
    skip: Callable[[S], bool] | None = None
    label: str = ""  # a form's name for the field
    placeholder: str = ""

    def skipped(self, state: S) -> bool:
        return self.skip is not None and self.skip(state)


@dataclass(frozen=True)
class Progress(Generic[S]):
    """A saved flow: the step waiting, the state so far and when it was saved."""

    step: Step[S]
    state: S
    saved_at: datetime


@dataclass(frozen=True)
class Field:
    """One input of a platform's form, as its step declares it: free text (`text`: its
    limits) or a choice (`options`)."""

    name: str
    label: str
    placeholder: str = ""
    text: Text | None = None
    options: tuple[Option, ...] = ()


class Expired(Exception):
    """The saved state cannot go on (it no longer fits this version): the flow ends."""


def need(value: T | None) -> T:
    """A field an earlier step filled; a state without it is one this version cannot use."""
    if value is None:
        raise Expired
    return value


def with_problem(reply: Reply, problem: str) -> Reply:
    """The step's question again, after what was wrong with the answer."""
    return replace(reply, blocks=(Paragraph((Span(problem),)), *reply.blocks))


# --- forms -------------------------------------------------------------------------------------


def submitted_form(ctx: Context) -> Form | None:
    """The platform's form this command runs for (`FormSubmitted`), if any: a command whose
    flow takes forms hands it to `Flow.take_form`."""
    return ctx.request.form


# --- the engine ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flow(Generic[S]):
    """A declared flow and the engine that runs it, saved under `command`."""

    command: str
    state: type[S]
    steps: tuple[Step[S], ...]
    finish: Finish[S]
    # The answer when a saved flow cannot go on; default: "That step has expired. ...".
    expired: Callable[[Context], Awaitable[Replies]] | None = None

    def __post_init__(self) -> None:
        names = [s.name for s in self.steps]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"flow {self.command!r} needs steps with distinct names")
        for step in self.steps:
            if step.parse is None and not isinstance(step.kind, Confirm):
                raise ValueError(f"step {step.name!r} of {self.command!r} needs a parser")

    # --- reading what is saved ---------------------------------------------------------------

    def has(self, step: str | None) -> bool:
        return any(s.name == step for s in self.steps)

    def step(self, name: str) -> Step[S]:
        return self.steps[self._index(name)]

    def _index(self, name: str) -> int:
        for index, step in enumerate(self.steps):
            if step.name == name:
                return index
        raise KeyError(f"flow {self.command!r} has no step {name!r}")

    def read(self, record: ConversationRecord) -> Progress[S]:
        """A saved conversation of this flow as typed progress; Expired if it cannot be one."""
        if record.command != self.command or not self.has(record.step):
            raise Expired
        try:
            state = self.state.model_validate(record.data)
        except ValidationError as exc:
            raise Expired from exc
        step = self.step(record.step)
        if step.skipped(state):
            raise Expired
        return Progress(step, state, record.updated_at)

    async def _record(self, ctx: Context) -> ConversationRecord | None:
        if ctx.conversation is not None:
            return ctx.conversation
        return await conversations.current(ctx.session, ctx.identity_id, ctx.now)

    async def saved(self, ctx: Context) -> Progress[S] | None:
        """This flow's saved progress, if the person has some that this version can use."""
        record = await self._record(ctx)
        if record is None or record.command != self.command or not self.has(record.step):
            return None
        try:
            return self.read(record)
        except Expired:
            return None

    # --- running ---------------------------------------------------------------------------

    async def start(
        self, ctx: Context, state: S | None = None, answers: Mapping[str, str] | None = None
    ) -> list[Reply]:
        """Begin the flow from `state` (default: the state model's defaults). `answers` given
        with the command fill the first steps; a bad one raises UserFacingError and nothing is
        saved (nothing was asked yet). Then the first step left is saved and asked."""
        given = answers or {}
        current = state if state is not None else self.state()
        return await self._guarded(ctx, self._start(ctx, current, given))

    async def _start(self, ctx: Context, state: S, answers: Mapping[str, str]) -> list[Reply]:
        for step in self.steps:
            if step.skipped(state):
                continue
            if step.name not in answers:
                return await self._ask_saved(ctx, step, state)
            value = answers[step.name]
            if isinstance(step.kind, Confirm) and not step.kind.accepts(value):
                raise UserFacingError(f"Please answer “{YES}” to go on.")
            result = await self._take(ctx, step, state, value, picked=False)
            if isinstance(result, Reply):
                await self._save(ctx, step, state)
                return [result]
            state = result
        await self.end(ctx)
        return _listed(await self.finish(ctx, state, None))

    async def reply(self, ctx: Context) -> list[Reply]:
        """The person's plain-text message (`ctx.args`) answering the step saved."""
        return await self._guarded(ctx, self._reply(ctx))

    async def _reply(self, ctx: Context) -> list[Reply]:
        record = await self._record(ctx)
        if record is None:
            raise Expired
        progress = self.read(record)
        return await self._answer(ctx, progress.step, progress.state, ctx.args, progress, False)

    async def resume(self, ctx: Context) -> list[Reply] | None:
        """Ask the step saved again; None if this flow has nothing saved."""
        record = await self._record(ctx)
        if record is None or record.command != self.command:
            return None
        return await self._guarded(ctx, self._resume(ctx, record))

    async def _resume(self, ctx: Context, record: ConversationRecord) -> list[Reply]:
        progress = self.read(record)
        return await self._ask_saved(ctx, progress.step, progress.state)

    async def answer(
        self, ctx: Context, at: Progress[S], step: str, value: str, *, picked: bool = True
    ) -> list[Reply]:
        """An answer to the step named `step` from a button or an option of the command
        (`picked`: an option's value). A step already answered may be answered again; one
        after the step waiting is not reached yet, so the waiting step is asked instead."""
        target = self.step(step)
        if self._index(step) > self._index(at.step.name):
            return await self.ask_at(ctx, at.step.name, at.state)
        return await self._guarded(
            ctx, self._answer(ctx, target, at.state, value, at, picked=picked)
        )

    async def confirm(self, ctx: Context, missing: Replies) -> list[Reply]:
        """The flow's confirm button: a yes to the Confirm step waiting; `missing` if none is
        (it was done or cancelled already)."""
        record = await self._record(ctx)
        if (
            record is None
            or record.command != self.command
            or not self.has(record.step)
            or not isinstance(self.step(record.step).kind, Confirm)
        ):
            return _listed(missing)
        return await self._guarded(ctx, self._confirm(ctx, record))

    async def _confirm(self, ctx: Context, record: ConversationRecord) -> list[Reply]:
        progress = self.read(record)
        return await self._answer(ctx, progress.step, progress.state, YES, progress, False)

    async def ask_at(
        self, ctx: Context, step: str, state: S, problem: str | None = None
    ) -> list[Reply]:
        """Save the flow at `step` with `state` and ask it (a finish that must go back)."""
        return await self._guarded(ctx, self._ask_saved(ctx, self.step(step), state, problem))

    async def end(self, ctx: Context) -> None:
        await conversations.clear(ctx.session, ctx.identity_id)

    # --- forms ---------------------------------------------------------------------------------

    def form_fields(self, env: Env, state: S | None = None) -> list[Field]:
        """A form's inputs: the steps before the first Confirm, as they are declared."""
        current = state if state is not None else self.state()
        fields = []
        for step in self._form_steps(current):
            kind = step.kind
            fields.append(
                Field(
                    step.name,
                    step.label or step.name,
                    step.placeholder,
                    kind if isinstance(kind, Text) else None,
                    tuple(kind.options(env, current)) if isinstance(kind, Choice) else (),
                )
            )
        return fields

    def _form_steps(self, state: S) -> list[Step[S]]:
        return [s for s in self.steps[: self._form_end()] if not s.skipped(state)]

    async def take_form(self, ctx: Context, form: Form, state: S | None = None) -> list[Reply]:
        """A submitted form: every field through its step's parser (each problem on its own
        field), then the flow goes on at the first step the form does not hold."""
        current = state if state is not None else self.state()
        return await self._guarded(ctx, self._take_form(ctx, form, current))

    async def _take_form(self, ctx: Context, form: Form, state: S) -> list[Reply]:
        errors: dict[str, str] = {}
        for step in self.steps[: self._form_end()]:
            if step.skipped(state):  # by the answers before it: its field is not read
                continue
            kind = step.kind
            raw = str(form.answers.get(step.name) or "")
            # Cleaned as a typed answer would be (a form's text comes raw from the platform).
            multiline = isinstance(kind, Text) and kind.multiline
            value = clean_multiline(raw) if multiline else clean_text(raw)
            if isinstance(kind, Choice) and value not in _values(kind.options(ctx, state)):
                errors[step.name] = "Please choose one of the options."  # a forged value
                continue
            try:
                result = await self._take(ctx, step, state, value, picked=True)
            except UserFacingError as problem:
                errors[step.name] = problem.reason
                continue
            except Expired:
                if errors:  # it needs an answer refused above: that one is the problem
                    continue
                raise
            if isinstance(result, Reply):  # the answer settled nothing: say why on the field
                errors[step.name] = result.plain_text.split("\n\n", 1)[0]
                continue
            state = result
        form.errors = errors
        if errors:
            return [text(" ".join(errors.values()))]
        form.taken = True
        if form.check_only:
            return []
        following = self._next(self._form_end(), state)
        if following is not None:
            return await self._ask_saved(ctx, following, state)
        await self.end(ctx)
        return _listed(await self.finish(ctx, state, None))

    def _form_end(self) -> int:
        """Where a form's steps end: the index of the first Confirm step (or of none)."""
        return next(
            (i for i, s in enumerate(self.steps) if isinstance(s.kind, Confirm)), len(self.steps)
        )

    # --- inside ------------------------------------------------------------------------------

    async def _guarded(self, ctx: Context, work: Awaitable[list[Reply]]) -> list[Reply]:
        try:
            return await work
        except Expired:
            await self.end(ctx)
            if self.expired is not None:
                return _listed(await self.expired(ctx))
            return [
                text(
                    "That step has expired. Please start again with "
                    f"{ctx.request.show(self.command)}."
                )
            ]

    async def _take(
        self, ctx: Context, step: Step[S], state: S, value: str, *, picked: bool
    ) -> S | Reply:
        """The answer `value` (a yes, for a Confirm) through the step's parser."""
        kind = step.kind
        if isinstance(kind, Text) and not kind.multiline:
            value = " ".join(value.split())
        parser = step.pick if picked and step.pick is not None else step.parse
        result = state if parser is None else await parser(ctx, state, value)
        if isinstance(kind, Text) and len(value) > kind.max_length:
            # The parser says it in its own words first; this holds what the step declares.
            raise UserFacingError(
                f"That is {len(value):,} characters; please keep it to {kind.max_length:,} "
                "or fewer."
            )
        return result

    async def _answer(
        self,
        ctx: Context,
        step: Step[S],
        state: S,
        value: str,
        saved: Progress[S],
        picked: bool,
    ) -> list[Reply]:
        kind = step.kind
        if isinstance(kind, Confirm) and not kind.accepts(value):
            return [await (kind.reask or step.ask)(ctx, state)]
        try:
            result = await self._take(ctx, step, state, value, picked=picked)
        except UserFacingError as problem:
            return [with_problem(await step.ask(ctx, state), problem.reason)]
        if isinstance(result, Reply):
            await self._save(ctx, step, state)
            return [result]
        following = self._next(self._index(step.name) + 1, result)
        if following is not None:
            return await self._ask_saved(ctx, following, result)
        await self.end(ctx)
        return _listed(await self.finish(ctx, result, saved.saved_at))

    def _next(self, start: int, state: S) -> Step[S] | None:
        return next((s for s in self.steps[start:] if not s.skipped(state)), None)

    async def _ask_saved(
        self, ctx: Context, step: Step[S], state: S, problem: str | None = None
    ) -> list[Reply]:
        await self._save(ctx, step, state)
        asked = await step.ask(ctx, state)
        return [with_problem(asked, problem) if problem else asked]

    async def _save(self, ctx: Context, step: Step[S], state: S) -> None:
        await conversations.save(
            ctx.session,
            ctx.identity_id,
            command=self.command,
            step=step.name,
            data=state.model_dump(mode="json"),
        )


async def reply_any(ctx: Context, *flows: Flow[Any]) -> list[Reply]:
    """Plain text for a command with several flows (news: submitting, a rejection's reason):
    the one the saved step belongs to takes it; an unknown step ends as the first flow's."""
    step = step_of(ctx)
    chosen = next((f for f in flows if f.has(step)), flows[0])
    return await chosen.reply(ctx)


def _values(options: Sequence[Option]) -> set[str]:
    return {o.value for o in options}


def _listed(replies: Replies) -> list[Reply]:
    return replies if isinstance(replies, list) else [replies]
