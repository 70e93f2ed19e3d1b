"""Per-account addresses: what a platform needs, beyond an account's id, to write to it first.

A Teams conversation reference is the example: the bridge can send a proactive message only
with the reference the platform handed over when the person last wrote. The adapter stores it
here when it sees one and reads it back when it sends; nothing else touches the column.
Erasure empties it with the rest of the account (store/erasure.py).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import Identity

MAX_BYTES = 8192  # a Teams conversation reference is well under 2 KB


class AddressTooLarge(ValueError):
    """An address larger than any platform's: refused rather than stored."""


async def remember(
    session: AsyncSession, platform: str, external_id: str, address: dict[str, Any]
) -> bool:
    """Keep the latest address of an account the bridge has met; False if it has not."""
    if len(json.dumps(address, ensure_ascii=False).encode()) > MAX_BYTES:
        raise AddressTooLarge(f"an address of more than {MAX_BYTES} bytes")
    result = await session.execute(
        update(Identity)
        .where(Identity.platform == platform, Identity.external_id == external_id)
        .values(address=address)
    )
    return bool(getattr(result, "rowcount", 0))


async def address_of(
    session: AsyncSession, platform: str, external_id: str
) -> dict[str, Any] | None:
    """The account's latest address, or None (never given, or erased)."""
    found = await session.scalar(
        select(Identity.address).where(
            Identity.platform == platform, Identity.external_id == external_id
        )
    )
    return dict(found) if found else None
