"""Re-accepting changed rules: every active member whose accepted version is older than their
group's is asked, in a private message with an "I accept" button, and reminded once a week
later. Nobody is removed for not answering: they stay members, and admins see who has not
accepted (`/group show GROUP`, `/members GROUP`, the console's Groups page) and decide.

Asked when an admin saves new rules (`/group rules`) and by the daily job (for versions raised
in config, and for the reminder). The messages' outbox keys make each ask and each reminder
happen once per member and version, whoever queues it first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers.config import GroupConfig, Settings
from ccin_bridge.handlers.membership import notify_person
from ccin_bridge.handlers.replies import Button, Reply, ReplyBuilder, bold
from ccin_bridge.store import groups as store_groups
from ccin_bridge.store import outbox

REMIND_AFTER = timedelta(days=7)
ACCEPTED, ASKED, REMINDED, NOT_ASKED = "accepted", "asked", "reminded", "not asked yet"


def ask_key(slug: str, version: int, person_id: int) -> str:
    return f"rules:{slug}:v{version}:{person_id}"


def accept_action(slug: str, version: int) -> str:
    """The "I accept" button's command: it names the version shown, so an old button never
    accepts rules changed since (handlers/commands/groups.py shows the current ones instead)."""
    return f"join {slug} --accept v{version}"


def _request(group: GroupConfig, version: int) -> Reply:
    return (
        ReplyBuilder()
        .heading(f"{group.name}: the rules of engagement have changed")
        .para(
            f"The rules are now at version {version}. Please read them and "
            "accept to stay in the group; you can also leave at any time."
        )
        .para(group.rules.text.strip())
        .buttons(
            Button("I accept", accept_action(group.slug, version)),
            Button("Leave the group", f"leave {group.slug}"),
        )
        .build(private=True)
    )


def _reminder(group: GroupConfig, version: int) -> Reply:
    return (
        ReplyBuilder()
        .para(
            "A reminder: please accept the new rules of ",
            bold(group.name),
            f" (version {version}).",
        )
        .buttons(
            Button("I accept", accept_action(group.slug, version)),
            Button("Leave the group", f"leave {group.slug}"),
        )
        .build(private=True)
    )


async def ask(
    session: AsyncSession, settings: Settings, now: datetime, *, slug: str | None = None
) -> int:
    """Ask every member who has not accepted their group's current rules (of `slug` only, if
    given), or remind those asked a week ago or more. Returns the messages queued."""
    queued = 0
    for row in await store_groups.members_needing_consent(session):
        group = settings.group(row.group_slug)
        if group is None or (slug is not None and group.slug != slug):
            continue
        base = ask_key(group.slug, row.rules_version, row.person_id)
        first = _request(group, row.rules_version)
        if await notify_person(
            session, row.person_id, first, title="Rules changed", key=base, now=now
        ):
            queued += 1
            continue
        # Already asked: a single reminder once the first request is a week old.
        asked = await outbox.push_created_at(session, base)
        if (
            asked is not None
            and now - asked >= REMIND_AFTER
            and await notify_person(
                session,
                row.person_id,
                _reminder(group, row.rules_version),
                title="Rules reminder",
                key=base + ":reminder",
                now=now,
            )
        ):
            queued += 1
    return queued


@dataclass(frozen=True)
class Acceptance:
    """Where one member stands with their group's current rules."""

    person_id: int
    display_name: str
    accepted_version: int | None
    rules_version: int
    state: str  # ACCEPTED, ASKED, REMINDED or NOT_ASKED
    asked_at: datetime | None


async def acceptance(session: AsyncSession, slug: str) -> list[Acceptance]:
    """Each active member of `slug` with the state of their acceptance of the current rules."""
    rows = await store_groups.members(session, slug, [store_groups.ACTIVE])
    waiting = [r for r in rows if (r.accepted_version or 0) < r.rules_version]
    keys = [ask_key(slug, r.rules_version, r.person_id) for r in waiting]
    sent = await outbox.pushes_created_at(session, keys + [k + ":reminder" for k in keys])
    found = []
    for row in rows:
        base = ask_key(slug, row.rules_version, row.person_id)
        asked = reminded = None
        if (row.accepted_version or 0) >= row.rules_version:
            state = ACCEPTED
        else:
            asked, reminded = sent.get(base), sent.get(base + ":reminder")
            state = REMINDED if reminded else ASKED if asked else NOT_ASKED
        found.append(
            Acceptance(
                person_id=row.person_id,
                display_name=row.display_name,
                accepted_version=row.accepted_version,
                rules_version=row.rules_version,
                state=state,
                asked_at=reminded or asked,
            )
        )
    return found
