"""Button actions kept server-side when they are too long for a platform's callback payload."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import CallbackToken, utcnow


async def save_action(session: AsyncSession, action: str) -> str:
    token = secrets.token_urlsafe(9)  # 12 characters, ample for short-lived button state
    session.add(CallbackToken(token=token, action=action, created_at=utcnow()))
    return token


async def load_action(session: AsyncSession, token: str) -> str | None:
    row = await session.get(CallbackToken, token)
    return None if row is None else row.action


async def purge_actions(session: AsyncSession, older_than: timedelta) -> int:
    result = await session.execute(
        delete(CallbackToken).where(CallbackToken.created_at < utcnow() - older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
