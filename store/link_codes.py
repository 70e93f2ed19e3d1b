"""One-time codes that join a person's accounts on two platforms (/link)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import LinkCode

VALID_FOR = timedelta(minutes=10)
# No 0/O or 1/I/L: people copy these by eye from one app to another.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 8


def normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


async def issue(session: AsyncSession, person_id: int, now: datetime) -> tuple[str, datetime]:
    """A fresh code for this person (their older codes stop working)."""
    await session.execute(delete(LinkCode).where(LinkCode.person_id == person_id))
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    expires = now + VALID_FOR
    session.add(LinkCode(code=code, person_id=person_id, expires_at=expires))
    await session.flush()
    return code, expires


async def redeem(session: AsyncSession, code: str, now: datetime) -> int | None:
    """The person the code belongs to, if it is valid; the code is used up either way."""
    row = await session.get(LinkCode, normalise(code))
    if row is None:
        return None
    person_id, expires = row.person_id, row.expires_at
    await session.delete(row)
    return person_id if expires > now else None


async def purge_expired(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(LinkCode).where(LinkCode.expires_at <= now))
