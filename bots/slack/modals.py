"""Admin forms in Slack modals: composing a broadcast and judging join requests.

The forms only collect input; what happens is decided by the bridge's commands, run as the
person who filled them in (a non-admin sees the commands' refusal):

- Broadcast (the `ccin_broadcast` shortcut, or `/ccin broadcast` with nothing after it):
  audience and text -> `broadcast AUDIENCE TEXT` shows the handler's preview (with the number
  of recipients, or its refusal) in the modal -> Confirm runs the preview's own Send line
  (`broadcast --confirm`: it sends what was previewed, once, and ends the preview's step);
  the modal closes and the result goes to the admin's DM.
- Join requests (the `ccin_approvals` shortcut, or "Review in a form" under `/ccin pending`):
  the `pending` answer with its Approve/Decline buttons and a reason field; a Decline carries
  the reason (`decline ID REASON`), and the list is drawn again after each decision.

Slack wants a view submission answered within 3 seconds, so every submission is acknowledged
first (with a "working" view where the modal stays open) and the work follows.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from ccin_bridge.bots.slack.render import SlackBlock, view_blocks
from ccin_bridge.bots.slack.session import SlackSession
from ccin_bridge.handlers import broadcasts
from ccin_bridge.handlers.replies import Reply

log = logging.getLogger(__name__)

BROADCAST = "ccin_broadcast"  # the shortcut's and the form's callback_id
BROADCAST_CONFIRM = "ccin_broadcast_confirm"
APPROVALS = "ccin_approvals"
REVIEW_ACTION = "ccin-review"  # "Review in a form" under a list of join requests
FORM_PREFIX = "ccin-form:"  # buttons inside the join-requests modal
REASON = "reason"
MAX_MODAL_BLOCKS = 100
MAX_BROADCAST_TEXT = 3000  # Slack's own cap on a plain_text_input
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

    def broadcast_form(self) -> dict[str, Any]:
        options = [
            {"text": plain(name[:75]), "value": slug}
            for slug, name in broadcasts.choices(self.adapter.bridge.settings)
        ]
        return {
            "type": "modal",
            "callback_id": BROADCAST,
            "title": plain("Broadcast"),
            "submit": plain("Preview"),
            "close": plain("Cancel"),
            "blocks": [
                {
                    "type": "input",
                    "block_id": "audience",
                    "label": plain("Audience"),
                    "element": {
                        "type": "static_select",
                        "action_id": "audience",
                        "placeholder": plain("Who should get it?"),
                        "options": options,
                    },
                },
                {
                    "type": "input",
                    "block_id": "text",
                    "label": plain("Message"),
                    "element": {
                        "type": "plain_text_input",
                        "action_id": "text",
                        "multiline": True,
                        "max_length": MAX_BROADCAST_TEXT,
                    },
                },
            ],
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
        chosen = _mapping(_mapping(values.get("audience")).get("audience")).get("selected_option")
        audience = _mapping(chosen).get("value")
        # Raw: the bridge cleans it and keeps the paragraphs (broadcast takes free text).
        text = str(_mapping(_mapping(values.get("text")).get("text")).get("value") or "").strip()
        user_id, view_id = _text_field(body.get("user"), "id"), _text_field(form, "id")
        if not user_id or not view_id:
            await ack()
            log.info("ignored a broadcast form submitted without a person or a form")
            return
        if not text or not audience:
            await ack(response_action="errors", errors={"text": "Write the message to send."})
            return
        await ack(
            response_action="update",
            view=waiting("Broadcast", "Preparing the preview…", BROADCAST_CONFIRM),
        )
        adapter = self.adapter
        replies = await adapter.run(
            await adapter.person(user_id),
            await adapter.dm_chat(user_id),
            f"/broadcast {audience} {text}",
        )
        send = next(
            (
                b.action
                for r in replies
                for row in r.buttons
                for b in row
                if b.action.startswith("broadcast ")
            ),
            None,
        )
        view = self._view("Broadcast", [_text_only(r) for r in replies], BROADCAST_CONFIRM, {})
        if send is not None:
            view |= {
                "submit": plain("Confirm"),
                "close": plain("Cancel"),
                "private_metadata": send,
                "notify_on_close": True,  # Cancel must end the flow the preview started
            }
        await adapter.client.views_update(view_id=view_id, view=view)

    async def _on_broadcast_confirm(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        self.adapter.track()
        await ack()  # closes the modal; the outcome goes to the DM
        line = _text_field(body.get("view"), "private_metadata")
        user_id = _text_field(body.get("user"), "id")
        if not line.startswith("broadcast ") or not user_id:
            return
        await self._run_to_dm(user_id, "/" + line)

    async def _on_broadcast_closed(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Cancel on the preview: end the broadcast's confirm step, so that a later "send" in
        the DM cannot queue what the admin called off."""
        self.adapter.track()
        await ack()
        user_id = _text_field(body.get("user"), "id")
        if _text_field(body.get("view"), "private_metadata").startswith("broadcast ") and user_id:
            await self._run_to_dm(user_id, "/cancel")

    async def _run_to_dm(self, user_id: str, line: str) -> None:
        adapter = self.adapter
        user = await adapter.person(user_id)
        chat = await adapter.dm_chat(user_id)
        replies = await adapter.run(user, chat, line)
        await adapter.deliver(replies, user=user, chat=chat)

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
        line = await adapter.bridge.decode_action(str(action.get("value") or ""))
        if not line:
            return
        if len(line.split()) == 2 and line.startswith("decline "):  # `decline ID`: no reason yet
            state = _mapping(_mapping(view.get("state")).get("values"))
            typed = next((_mapping(v) for k, v in state.items() if k.startswith(REASON)), {})
            reason = " ".join(str(_mapping(typed.get(REASON)).get("value") or "").split())
            if reason:
                line = f"{line} {reason}"
        outcome = await adapter.run(
            await adapter.person(user_id), await adapter.dm_chat(user_id), "/" + line
        )
        await self._show_requests(user_id, view_id, outcome)

    async def _on_done(self, ack: AsyncAck) -> None:
        await ack()  # "Done" just closes the form

    async def _show_requests(self, user_id: str, view_id: str, outcome: list[Reply]) -> None:
        adapter = self.adapter
        user = await adapter.person(user_id)
        listing = await adapter.run(user, await adapter.dm_chat(user_id), "/pending")
        # Only the decisions are buttons here; the rest of `pending`'s buttons stay in chats.
        # The last decision's own buttons (e.g. "Decline without a reason") stay usable.
        decisions = [
            replace(
                r,
                buttons=tuple(
                    row
                    for row in r.buttons
                    if any(b.action.startswith(("approve ", "decline ")) for b in row)
                ),
            )
            for r in listing
        ]
        replies = [*outcome, *decisions]
        view = self._view(
            "Join requests", replies, APPROVALS, await adapter.payloads(replies), reserve=1
        )
        if any(r.buttons for r in decisions):
            view["blocks"].append(
                {
                    "type": "input",
                    # A new id each time: Slack keeps an input's text across updates while its
                    # block_id stays, and one decline's reason must not go with the next.
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
        payloads: dict[str, str],
        reserve: int = 0,
    ) -> dict[str, Any]:
        blocks = view_blocks(
            replies, payloads, FORM_PREFIX, MAX_MODAL_BLOCKS - reserve, CUT_SHORT
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


def _mapping(value: object) -> dict[str, Any]:
    """A part of a payload that should be an object, or {} where it is not."""
    return value if isinstance(value, dict) else {}


def _text_field(value: object, key: str) -> str:
    """A string field of a payload object, or "" where it is missing or not a string."""
    found = _mapping(value).get(key)
    return found if isinstance(found, str) else ""
