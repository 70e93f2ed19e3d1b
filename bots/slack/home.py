"""The App Home tab: the bridge's `home` command for the person opening it, as a Home view.

Its buttons carry command lines like message buttons do (action_ids `ccin-home:N`); pressing
one runs the command, sends the answer to the person's DM (the app's Messages tab) and
publishes the Home again, so joining or unsubscribing shows at once.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from ccin_bridge.bots.slack import inbound
from ccin_bridge.bots.slack.render import view_blocks
from ccin_bridge.bots.slack.session import SlackSession
from ccin_bridge.handlers.events import ButtonPressed
from ccin_bridge.handlers.identity import ChatRef

log = logging.getLogger(__name__)

HOME_PREFIX = "ccin-home:"
MAX_HOME_BLOCKS = 100
CUT_SHORT = "There is more: send `/ccin home` to see all of it."


class Home:
    def __init__(self, adapter: SlackSession) -> None:
        self.adapter = adapter

    def register(self, app: AsyncApp) -> None:
        app.event("app_home_opened")(self._on_opened)
        app.action(re.compile("^" + re.escape(HOME_PREFIX)))(self._on_button)

    async def publish(self, user_id: str, chat: ChatRef | None = None) -> None:
        adapter = self.adapter
        user = await adapter.person(user_id)
        chat = chat or await adapter.dm_chat(user_id)
        replies = await adapter.run(user, chat, "/home")
        blocks = view_blocks(
            replies, await adapter.payloads(replies), HOME_PREFIX, MAX_HOME_BLOCKS, CUT_SHORT
        )
        await adapter.client.views_publish(user_id=user_id, view={"type": "home", "blocks": blocks})

    async def _on_opened(self, event: dict[str, Any]) -> None:
        self.adapter.track()
        user_id, channel = event.get("user"), event.get("channel")
        # Opening the Messages tab sends this event too; only the Home tab is ours to draw.
        if event.get("tab") != "home" or not isinstance(user_id, str):
            return
        chat = inbound.chat_ref(channel) if isinstance(channel, str) and channel else None
        await self.publish(user_id, chat)

    async def _on_button(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        self.adapter.track()
        await ack()
        adapter = self.adapter
        user_id = str((body.get("user") or {})["id"])
        user = await adapter.person(user_id)
        chat = await adapter.dm_chat(user_id)
        value = str(((body.get("actions") or [{}])[0]).get("value") or "")
        outcome = await adapter.bridge.dispatch(ButtonPressed(user, chat, value))
        await adapter.deliver(outcome.replies, user=user, chat=chat)
        await self.publish(user_id, chat)
