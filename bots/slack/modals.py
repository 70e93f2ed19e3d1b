"""Admin forms in Slack modals: composing a broadcast and judging join requests.

The forms only collect input; what happens is decided by the bridge, run as the person who
filled them in (a non-admin sees the commands' refusal):

- Broadcast (the `ccin_broadcast` shortcut, or `/ccin broadcast` with nothing after it): the
  form's inputs are the broadcast flow's own steps (handlers/commands/broadcast.py: the audience
  a select of the options its step offers, the text an input of its step's length). A
  submission goes through the same steps (a `FormSubmitted` event): a value a step refuses
  is shown on its field, and otherwise the flow's preview (with the number of recipients, or its
  refusal) replaces the form -> Confirm presses the preview's confirm button (it sends what was
  previewed, once, and ends the flow), Cancel its cancel button; the result goes to the DM.
  Which buttons those are is read from their roles when the preview is drawn and kept in the
  view's private_metadata, which only this module sets: a view without them does nothing.
- Join requests (the `ccin_approvals` shortcut, or "Review in a form" under `/ccin pending`):
  the `pending` answer with its Approve/Decline buttons and a reason field; a button that takes
  text (its `takes_text`, carried in its action_id) is pressed with what the field holds, and
  the list is drawn again after each decision.

Slack wants a view submission answered within 3 seconds, so every submission is acknowledged
as soon as its answers are checked (one unit of work, and the person's name, cached after the
first time), with a "working" view where the modal stays open, and the work follows.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from ccin_bridge.bots.slack.render import SlackBlock, view_blocks
from ccin_bridge.bots.slack.session import SlackSession
from ccin_bridge.handlers import flow
from ccin_bridge.handlers.commands.broadcast import BROADCAST as BROADCAST_FLOW
from ccin_bridge.handlers.events import ButtonPressed, FormSubmitted
from ccin_bridge.handlers.identity import ChatRef
from ccin_bridge.handlers.replies import Button, Reply

log = logging.getLogger(__name__)

BROADCAST = "ccin_broadcast"  # the shortcut's and the form's callback_id
BROADCAST_CONFIRM = "ccin_broadcast_confirm"
APPROVALS = "ccin_approvals"
REVIEW_ACTION = "ccin-review"  # "Review in a form" under a list of join requests
FORM_PREFIX = "ccin-form:"  # buttons inside the join-requests modal
REASON = "reason"  # the join-requests form's text field, for buttons that take a "reason"
MAX_MODAL_BLOCKS = 100
MAX_INPUT_TEXT = 3000  # Slack's own cap on a plain_text_input
MAX_OPTIONS = 100  # per static_select
MAX_STORED_PAYLOAD = 1000  # each button kept in private_metadata (3000 in all)
DECISIONS = ("approve", "decline")  # the join-requests form keeps the rows with these roles
CUT_SHORT = "More are waiting: decide on these first."
NOT_AN_ADMIN = "Broadcasting to the network is for network admins only."


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def review_block() -> SlackBlock:
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": plain("Review in a form"),
                "action_id": REVIEW_ACTION,
                "value": "pending",
            }
        ],
    }


def _section(text: str) -> SlackBlock:
    return {"type": "section", "text": plain(text)}


def waiting(title: str, text: str, callback_id: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title),
        "close": plain("Close"),
        "blocks": [_section(text)],
    }


def input_block(field: flow.Field) -> SlackBlock:
    """A form field declared by a flow's step, as a Slack input (block and action ids are the
    step's name): a select of its options, or a text input of its length."""
    element: dict[str, Any]
    if field.text is not None:
        element = {
            "type": "plain_text_input",
            "action_id": field.name,
            "multiline": field.text.multiline,
            "max_length": min(field.text.max_length, MAX_INPUT_TEXT),
        }
    else:
        element = {
            "type": "static_select",
            "action_id": field.name,
            "options": [
                {"text": plain(o.label[:75]), "value": o.value[:150]}
                for o in field.options[:MAX_OPTIONS]
            ],
        }
    if field.placeholder:
        element["placeholder"] = plain(field.placeholder[:150])
    return {
        "type": "input",
        "block_id": field.name,
        "label": plain(field.label),
        "element": element,
    }


def answer_of(values: dict[str, Any], field: flow.Field) -> str:
    """What a submitted form holds for `field` (raw: the flow cleans it like typed text)."""
    state = _mapping(_mapping(values.get(field.name)).get(field.name))
    if field.text is None:
        return _text_field(state.get("selected_option"), "value")
    return _text_field(state, "value")


class Modals:
    def __init__(self, adapter: SlackSession) -> None:
        self.adapter = adapter

    def register(self, app: AsyncApp) -> None:
        app.shortcut(BROADCAST)(self._on_broadcast_shortcut)
        app.view(BROADCAST)(self._on_broadcast_preview)
        app.view(BROADCAST_CONFIRM)(self._on_broadcast_confirm)
        app.view_closed(BROADCAST_CONFIRM)(self._on_broadcast_closed)
        app.shortcut(APPROVALS)(self._on_approvals_shortcut)
        app.action(REVIEW_ACTION)(self._on_approvals_shortcut)
        app.action(re.compile("^" + re.escape(FORM_PREFIX)))(self._on_decision)
        app.view(APPROVALS)(self._on_done)

    # --- broadcast ---------------------------------------------------------------------------

    def broadcast_fields(self) -> list[flow.Field]:
        """The broadcast flow's steps as form fields. The form opens only for someone the
        bridge lets broadcast (`Bridge.may_run`, asked before every `open_broadcast`)."""
        env = flow.FormEnv(self.adapter.bridge.settings, is_admin=True)
        return BROADCAST_FLOW.form_fields(env)

    def broadcast_form(self) -> dict[str, Any]:
        return {
            "type": "modal",
            "callback_id": BROADCAST,
            "title": plain("Broadcast"),
            "submit": plain("Preview"),
            "close": plain("Cancel"),
            "blocks": [input_block(f) for f in self.broadcast_fields()],
        }

    async def open_broadcast(self, trigger_id: str) -> None:
        # The trigger expires 3 seconds after the click: open first, think later.
        await self.adapter.client.views_open(trigger_id=trigger_id, view=self.broadcast_form())

    async def _on_broadcast_shortcut(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        self.adapter.track()
        await ack()
        trigger_id = _text_field(body, "trigger_id")
        user_id = _text_field(body.get("user"), "id")
        if not trigger_id or not user_id:
            log.info("ignored a broadcast shortcut without a trigger or a person")
            return
        if not await self.adapter.bridge.may_run(await self.adapter.person(user_id), "broadcast"):
            # Not the form, only to be refused after filling it in: the refusal at once.
            refusal = waiting("Broadcast", NOT_AN_ADMIN, BROADCAST)
            await self.adapter.client.views_open(trigger_id=trigger_id, view=refusal)
            return
        await self.open_broadcast(trigger_id)

    async def _on_broadcast_preview(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        self.adapter.track()
        form = _mapping(body.get("view"))
        values = _mapping(_mapping(form.get("state")).get("values"))
        user_id, view_id = _text_field(body.get("user"), "id"), _text_field(form, "id")
        if not user_id or not view_id:
            await ack()
            log.info("ignored a broadcast form submitted without a person or a form")
            return
        # The fields are the flow's, not whatever the submission claims the form had.
        answers = {f.name: answer_of(values, f) for f in self.broadcast_fields()}
        adapter = self.adapter
        user = await adapter.person(user_id)  # cached after the first time
        # The answers go to the flow's steps as a form, not in a command line. Checking
        # needs no chat, so the DM is opened (a Slack call) only after the acknowledgement.
        command = BROADCAST_FLOW.command
        unopened = ChatRef(user.platform, "", is_private=True)
        checked = await adapter.bridge.dispatch(
            FormSubmitted(user, unopened, command, answers, check_only=True)
        )
        if checked.form is not None and checked.form.errors:
            await ack(response_action="errors", errors=checked.form.errors)
            return
        if checked.form is None or not checked.form.taken:
            # Refused (no longer an admin) or failed: say so in the form.
            replies = [_text_only(r) for r in checked.reply_list]
            await ack(response_action="update", view=self._view("Broadcast", replies, BROADCAST))
            return
        await ack(
            response_action="update",
            view=waiting("Broadcast", "Preparing the preview…", BROADCAST_CONFIRM),
        )
        chat = await adapter.dm_chat(user_id)
        outcome = await adapter.bridge.dispatch(FormSubmitted(user, chat, command, answers))
        replies = outcome.reply_list
        view = self._view("Broadcast", [_text_only(r) for r in replies], BROADCAST_CONFIRM)
        taken = outcome.form is not None and outcome.form.taken
        stored = await self._preview_buttons(replies) if taken else {}
        if "confirm" in stored:
            view |= {
                "submit": plain("Confirm"),
                "close": plain("Cancel"),
                "private_metadata": json.dumps(stored),
                "notify_on_close": True,  # Cancel must end the flow the preview started
            }
        await adapter.client.views_update(view_id=view_id, view=view)

    async def _preview_buttons(self, replies: list[Reply]) -> dict[str, str]:
        """The payloads of the preview's confirm and cancel buttons, by role."""
        stored: dict[str, str] = {}
        for button in _buttons(replies):
            if button.role in ("confirm", "cancel") and button.role not in stored:
                stored[button.role] = await self.adapter.bridge.encode_action(
                    button.action, MAX_STORED_PAYLOAD
                )
        return stored

    async def _on_broadcast_confirm(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        self.adapter.track()
        await ack()  # closes the modal; the outcome goes to the DM
        await self._press_stored(body, "confirm")

    async def _on_broadcast_closed(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Cancel on the preview: press its cancel button, ending the broadcast's confirm step,
        so that a later "send" in the DM cannot queue what the admin called off."""
        self.adapter.track()
        await ack()
        await self._press_stored(body, "cancel")

    async def _press_stored(self, body: dict[str, Any], role: str) -> None:
        """Press the preview's button with `role`, as this module stored it in the view."""
        user_id = _text_field(body.get("user"), "id")
        payload = _stored(_text_field(body.get("view"), "private_metadata")).get(role)
        if not user_id or not payload:
            log.info("ignored a broadcast preview without its %s button", role)
            return
        adapter = self.adapter
        user = await adapter.person(user_id)
        chat = await adapter.dm_chat(user_id)
        outcome = await adapter.bridge.dispatch(ButtonPressed(user, chat, payload))
        await adapter.deliver(outcome.replies, user=user, chat=chat)

    # --- join requests -----------------------------------------------------------------------

    async def _on_approvals_shortcut(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        self.adapter.track()
        await ack()
        trigger_id, user_id = _text_field(body, "trigger_id"), _text_field(body.get("user"), "id")
        if not trigger_id or not user_id:
            log.info("ignored a request for the join-requests form without a trigger or person")
            return
        opened = await self.adapter.client.views_open(
            trigger_id=trigger_id,
            view=waiting("Join requests", "Loading the requests…", APPROVALS),
        )
        view_id = _text_field(opened.get("view"), "id")
        if view_id:
            await self._show_requests(user_id, view_id, [])

    async def _on_decision(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        self.adapter.track()
        await ack()
        adapter = self.adapter
        # Only the join-requests form has these buttons: a press without a form to redraw, or
        # without a person, was not made there. Nothing is run for it.
        view, user_id = _mapping(body.get("view")), _text_field(body.get("user"), "id")
        view_id = _text_field(view, "id")
        if not view_id or not user_id:
            log.info("ignored a join-request form button pressed outside the form")
            return
        actions = body.get("actions")
        action = _mapping(actions[0]) if isinstance(actions, list) and actions else {}
        # A button that takes text goes with what the form's field for it holds; the others
        # never carry it (an Approve does not send the reason typed for someone else).
        takes = _takes_text(_text_field(action, "action_id"))
        typed = _typed(view, takes) if takes else ""
        user = await adapter.person(user_id)
        chat = await adapter.dm_chat(user_id)
        pressed = ButtonPressed(user, chat, _text_field(action, "value"), typed)
        outcome = await adapter.bridge.dispatch(pressed)
        await self._show_requests(user_id, view_id, outcome.reply_list)

    async def _on_done(self, ack: AsyncAck) -> None:
        await ack()  # "Done" just closes the form

    async def _show_requests(self, user_id: str, view_id: str, outcome: list[Reply]) -> None:
        adapter = self.adapter
        user = await adapter.person(user_id)
        chat = await adapter.dm_chat(user_id)
        listing = await adapter.run(user, chat, "/pending")
        # Only the decisions are buttons here; the rest of `pending`'s buttons stay in chats.
        # The last decision's own buttons (e.g. "Decline without a reason") stay usable.
        decisions = [
            replace(
                r,
                buttons=tuple(row for row in r.buttons if any(b.role in DECISIONS for b in row)),
            )
            for r in listing
        ]
        replies = [*outcome, *decisions]
        payloads = await adapter.payloads(replies)
        view = self._view("Join requests", replies, APPROVALS, payloads, reserve=1)
        _mark_takes_text(view["blocks"], replies, payloads)
        if any(r.buttons for r in decisions):
            if any(b.takes_text == REASON for b in _buttons(replies)):
                view["blocks"].append(
                    {
                        "type": "input",
                        # A new id each time: Slack keeps an input's text across updates while
                        # its block_id stays, and one decline's reason must not go with the next.
                        "block_id": f"{REASON}-{secrets.token_hex(4)}",
                        "optional": True,
                        "label": plain("Reason, sent with a decline"),
                        "element": {"type": "plain_text_input", "action_id": REASON},
                    }
                )
            view |= {"submit": plain("Done")}
        await adapter.client.views_update(view_id=view_id, view=view)

    def _view(
        self,
        title: str,
        replies: list[Reply],
        callback_id: str,
        payloads: dict[str, str] | None = None,
        reserve: int = 0,
    ) -> dict[str, Any]:
        blocks = view_blocks(
            replies, payloads or {}, FORM_PREFIX, MAX_MODAL_BLOCKS - reserve, CUT_SHORT
        ) or [_section("Nothing to show.")]
        return {
            "type": "modal",
            "callback_id": callback_id,
            "title": plain(title),
            "close": plain("Close"),
            "blocks": blocks,
        }


def _text_only(reply: Reply) -> Reply:
    return replace(reply, buttons=())


def _buttons(replies: list[Reply]) -> list[Button]:
    return [b for r in replies for row in r.buttons for b in row]


def _stored(metadata: str) -> dict[str, str]:
    """The preview's buttons as `_on_broadcast_preview` stored them, or {} for anything else."""
    try:
        found = json.loads(metadata) if metadata else {}
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str) and v}


def _mark_takes_text(
    blocks: list[SlackBlock], replies: list[Reply], payloads: dict[str, str]
) -> None:
    """A pressed button gives back only its value: a button that takes text says so in its
    action_id (`ccin-form:3:reason`), which the form itself sets."""
    takes = {payloads[b.action]: b.takes_text for b in _buttons(replies) if b.takes_text}
    for block in blocks:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements") or ():
            mark = takes.get(element.get("value"))
            if mark:
                element["action_id"] = f"{element['action_id']}:{mark}"


def _takes_text(action_id: str) -> str:
    """What the pressed button takes (`_mark_takes_text`), or ""."""
    return action_id.removeprefix(FORM_PREFIX).partition(":")[2]


def _typed(view: dict[str, Any], name: str) -> str:
    """What the form's field `name` holds (its block_id changes with every drawing)."""
    values = _mapping(_mapping(view.get("state")).get("values"))
    field = next((_mapping(v) for k, v in values.items() if k.startswith(f"{name}-")), {})
    return " ".join(_text_field(field.get(name), "value").split())


def _mapping(value: object) -> dict[str, Any]:
    """A part of a payload that should be an object, or {} where it is not."""
    return value if isinstance(value, dict) else {}


def _text_field(value: object, key: str) -> str:
    """A string field of a payload object, or "" where it is missing or not a string."""
    found = _mapping(value).get(key)
    return found if isinstance(found, str) else ""
