"""One-time codes that join a person's accounts on two platforms (/link).

A code links nothing by itself: the account that types it *claims* it and is shown whose
account it would join, and only that account may then confirm (which uses the code up) or
cancel (which releases the claim). Each step is one conditional UPDATE or DELETE, so two
accounts racing for one code cannot both claim it, nor confirm it twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import LinkCode

VALID_FOR = timedelta(minutes=10)
# No 0/O or 1/I/L: people copy these by eye from one app to another.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 8


@dataclass(frozen=True)
class CodeRecord:
    code: str
    person_id: int  # who issued it: the person the other account would join
    expires_at: datetime
    claimed_by: int | None  # the identity that typed it and was shown whose it is


def normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


async def issue(session: AsyncSession, person_id: int, now: datetime) -> tuple[str, datetime]:
    """A fresh code for this person (their older codes, claimed or not, stop working)."""
    await session.execute(delete(LinkCode).where(LinkCode.person_id == person_id))
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    expires = now + VALID_FOR
    session.add(LinkCode(code=code, person_id=person_id, expires_at=expires))
    await session.flush()
    return code, expires


async def find(session: AsyncSession, code: str, now: datetime) -> CodeRecord | None:
    """The code as typed (any case, spaces or dashes), if it exists and has not expired."""
    row = await session.scalar(
        select(LinkCode).where(LinkCode.code == normalise(code), LinkCode.expires_at > now)
    )
    if row is None:
        return None
    return CodeRecord(row.code, row.person_id, row.expires_at, row.claimed_by)


async def claim(session: AsyncSession, code: str, identity_id: int, now: datetime) -> bool:
    """Reserve a valid code for the account that typed it; False if another account has."""
    result = await session.execute(
        update(LinkCode)
        .where(
            LinkCode.code == normalise(code),
            LinkCode.expires_at > now,
            or_(LinkCode.claimed_by.is_(None), LinkCode.claimed_by == identity_id),
        )
        .values(claimed_by=identity_id)
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


async def release(session: AsyncSession, code: str, identity_id: int) -> bool:
    """Give up this account's claim (Cancel): the code may be typed again until it expires."""
    result = await session.execute(
        update(LinkCode)
        .where(LinkCode.code == normalise(code), LinkCode.claimed_by == identity_id)
        .values(claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


async def use(session: AsyncSession, code: str, identity_id: int, now: datetime) -> bool:
    """Use the code up on confirmation: only by the account that claimed it, only while valid."""
    result = await session.execute(
        delete(LinkCode)
        .where(
            LinkCode.code == normalise(code),
            LinkCode.claimed_by == identity_id,
            LinkCode.expires_at > now,
        )
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


def _changed(result: object) -> bool:
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def purge_expired(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(LinkCode).where(LinkCode.expires_at <= now))
