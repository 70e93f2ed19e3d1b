"""Who the network's admins are: accounts with the store's flag (`admin grant`) or named in
config's `admins`, with who granted each stored right (from the audit log)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import AuditEntry, Identity

GRANT = "admin.grant"
REVOKE = "admin.revoke"
HISTORY = 5_000  # grant entries read to find who granted each right (newest first)


@dataclass(frozen=True)
class AdminRow:
    key: str  # PLATFORM:USER_ID
    name: str  # as the platform last named the account; "" if the bridge never met it
    username: str | None
    by_config: bool
    by_grant: bool  # the store's flag
    granted_by: int | None = None  # the person who granted it; None: the command line
    granted_at: datetime | None = None  # None: no grant in the log (older than it, or config)


async def admins(session: AsyncSession, config_admins: list[str]) -> list[AdminRow]:
    """Every admin account: config's (met or not) and the store's, config's first."""
    keys = [tuple(k.split(":", 1)) for k in config_admins if ":" in k]
    conditions = [Identity.is_admin.is_(True)]
    if keys:
        conditions.append(tuple_(Identity.platform, Identity.external_id).in_(keys))
    found = {
        f"{i.platform}:{i.external_id}": i
        for i in await session.scalars(select(Identity).where(or_(*conditions)))
    }
    grants = await _last_grants(session, {k for k, i in found.items() if i.is_admin})
    rows = []
    for key in dict.fromkeys([*config_admins, *sorted(found)]):
        identity = found.get(key)
        actor, at = grants.get(key, (None, None))
        rows.append(
            AdminRow(
                key,
                identity.display_name if identity else "",
                identity.username if identity else None,
                key in config_admins,
                bool(identity and identity.is_admin),
                actor,
                at,
            )
        )
    return rows


async def _last_grants(
    session: AsyncSession, keys: set[str]
) -> dict[str, tuple[int | None, datetime]]:
    """key -> (who, when) of the newest grant of each of these accounts in the log."""
    if not keys:
        return {}
    entries = await session.execute(
        select(AuditEntry.actor_id, AuditEntry.at, AuditEntry.detail)
        .where(AuditEntry.action == GRANT)
        .order_by(AuditEntry.id.desc())
        .limit(HISTORY)
    )
    found: dict[str, tuple[int | None, datetime]] = {}
    for actor_id, at, detail in entries:
        who = detail.get("who") if isinstance(detail, dict) else None
        if isinstance(who, str) and who in keys and who not in found:
            found[who] = (actor_id, at)
    return found
