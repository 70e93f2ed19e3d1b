"""Step-by-step flows (news, broadcast, join): state kept in the store between messages.

A command starts a flow with `begin`; the person's next plain-text message in a private chat
comes back to the same command with `ctx.conversation` set; `/cancel` ends any flow.
"""

from __future__ import annotations

from typing import Any

from ccin_bridge.handlers.core import Context
from ccin_bridge.store import conversations


async def begin(ctx: Context, step: str, data: dict[str, Any] | None = None) -> None:
    await conversations.save(
        ctx.session, ctx.identity_id, command=ctx.request.command, step=step, data=data or {}
    )


async def advance(ctx: Context, step: str, data: dict[str, Any]) -> None:
    await begin(ctx, step, data)


async def end(ctx: Context) -> None:
    await conversations.clear(ctx.session, ctx.identity_id)


async def end_any(ctx: Context) -> bool:
    """End whichever flow is in progress; False if there was none."""
    return await conversations.clear(ctx.session, ctx.identity_id)


def step_of(ctx: Context) -> str | None:
    """The step this message answers, or None if the command was typed afresh."""
    return ctx.conversation.step if ctx.conversation is not None else None
