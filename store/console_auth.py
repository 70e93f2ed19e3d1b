"""Sign-in codes and sessions of the admins' web console, kept as hashes only.

A code is bound to the browser that asked for it (the hash of a random value in that browser's
cookie), lives ten minutes, allows five tries and works once. A session is the hash of the
token in the browser's cookie, with an absolute end and an idle end. Each step that uses
something up is one conditional UPDATE, so two requests racing cannot both succeed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import ConsoleCode, ConsoleSession, Identity

CODE_VALID_FOR = timedelta(minutes=10)
CODE_TRIES = 5
# Eight letters and digits (no 0/O or 1/I/L: people copy them by eye): 31^8 codes, so five
# tries per code at three codes per ten minutes leave a guesser about one chance in 10^8 a day.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
# Codes one account may be sent in CODE_VALID_FOR: a stranger typing an admin's handle
# again and again must not flood that admin's chat.
CODES_PER_ACCOUNT = 3
# A session's last use is written at most this often: each page view must not be a write.
TOUCH_EVERY = timedelta(minutes=1)


def normalise(code: str) -> str:
    """A code as typed (any case, with the dash it is shown with or spaces) as it was issued."""
    return "".join(ch for ch in code.upper() if ch.isalnum())[: CODE_LENGTH + 1]


def shown(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Account:
    """An admin account the console acts as (rights belong to the account, not the person)."""

    identity_id: int
    person_id: int
    platform: str
    external_id: str
    display_name: str
    username: str | None

    @property
    def name(self) -> str:
        return self.display_name or self.username or "admin"


def _account(identity: Identity) -> Account:
    return Account(
        identity.id,
        identity.person_id,
        identity.platform,
        identity.external_id,
        identity.display_name,
        identity.username,
    )


@dataclass(frozen=True)
class SessionRecord:
    id: int
    identity_id: int
    csrf: str
    expires_at: datetime


async def recent_codes(session: AsyncSession, identity_id: int, now: datetime) -> int:
    since = now - CODE_VALID_FOR
    count = await session.scalar(
        select(func.count())
        .select_from(ConsoleCode)
        .where(ConsoleCode.identity_id == identity_id, ConsoleCode.created_at > since)
    )
    return int(count or 0)


async def issue_code(session: AsyncSession, identity_id: int, browser: str, now: datetime) -> str:
    """A fresh code for `identity_id`, usable only with the cookie value `browser`."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    session.add(
        ConsoleCode(
            identity_id=identity_id,
            browser_hash=digest(browser),
            code_hash=digest(f"{browser}:{code}"),
            created_at=now,
            expires_at=now + CODE_VALID_FOR,
            attempts=0,
        )
    )
    await session.flush()
    return code


async def redeem_code(session: AsyncSession, browser: str, code: str, now: datetime) -> int | None:
    """The identity the code was sent to if `code` is right for this browser, used up now;
    None for a wrong, expired, used or over-tried code (a wrong one counts as a try)."""
    row = await session.scalar(
        select(ConsoleCode).where(ConsoleCode.browser_hash == digest(browser))
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    if row.attempts >= CODE_TRIES:
        return None
    right = hmac.compare_digest(row.code_hash, digest(f"{browser}:{code}"))
    values: dict[str, object] = {"attempts": ConsoleCode.attempts + 1}
    if right:
        values["used_at"] = now
    result = await session.execute(
        update(ConsoleCode)
        .where(
            ConsoleCode.id == row.id,
            ConsoleCode.used_at.is_(None),
            ConsoleCode.attempts < CODE_TRIES,
        )
        .values(values)
    )
    if not right or getattr(result, "rowcount", 0) != 1:
        return None
    return row.identity_id


async def start_session(
    session: AsyncSession, identity_id: int, now: datetime, lifetime: timedelta
) -> tuple[str, SessionRecord]:
    """A new session for the account: the token for the cookie, and the session."""
    token = new_secret()
    row = ConsoleSession(
        identity_id=identity_id,
        token_hash=digest(token),
        csrf=new_secret(),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    await session.flush()
    return token, SessionRecord(row.id, identity_id, row.csrf, row.expires_at)


async def find_session(
    session: AsyncSession, token: str, now: datetime, idle: timedelta, *, touch: bool = True
) -> SessionRecord | None:
    """The live session of this cookie token, its last use noted (at most every minute)
    unless `touch` is False: a page's own polling is not the admin using the console, so it
    must not keep an idle session alive."""
    row = await session.scalar(
        select(ConsoleSession).where(ConsoleSession.token_hash == digest(token))
    )
    if row is None:
        return None
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        await session.delete(row)
        return None
    if touch and now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return SessionRecord(row.id, row.identity_id, row.csrf, row.expires_at)


async def end_session(session: AsyncSession, session_id: int) -> None:
    await session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))


async def end_sessions_of(session: AsyncSession, identity_id: int) -> int:
    """Every console session of one account (its admin right was revoked): how many ended."""
    result = await session.execute(
        delete(ConsoleSession).where(ConsoleSession.identity_id == identity_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def purge(session: AsyncSession, now: datetime) -> None:
    """Drop spent codes and ended sessions (they grant nothing; this only tidies)."""
    await session.execute(
        delete(ConsoleCode).where(
            or_(ConsoleCode.expires_at <= now, ConsoleCode.used_at.is_not(None))
        )
    )
    await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
    # (Idle sessions end when next used; those never used again go at their absolute end.)


async def admin_accounts_matching(
    session: AsyncSession, handle: str, config_admins: list[str]
) -> list[Account]:
    """Active admin accounts that `handle` names: `@name` or `name` (the platform handle,
    any case), or `PLATFORM:USER_ID`. Rights belong to the account (store flag or config)."""
    wanted = handle.strip()
    conditions: list[ColumnElement[bool]] = []
    if ":" in wanted:
        platform, _, external_id = wanted.partition(":")
        conditions.append(
            (Identity.platform == platform.strip().lower())
            & (Identity.external_id == external_id.strip())
        )
    name = wanted.removeprefix("@").strip().lower()
    if name:
        conditions.append(func.lower(Identity.username) == name)
    if not conditions:
        return []
    rows = await session.scalars(
        select(Identity).where(or_(*conditions), Identity.active.is_(True)).order_by(Identity.id)
    )
    keys = set(config_admins)
    return [_account(i) for i in rows if i.is_admin or f"{i.platform}:{i.external_id}" in keys]


async def account_is_admin(
    session: AsyncSession, identity_id: int, config_admins: list[str]
) -> Account | None:
    """The account if it is still an active admin (checked on every console request, so a
    revoked admin is out at once), else None."""
    identity = await session.get(Identity, identity_id)
    if identity is None or not identity.active:
        return None
    if identity.is_admin or f"{identity.platform}:{identity.external_id}" in config_admins:
        return _account(identity)
    return None
