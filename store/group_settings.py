"""Groups' and audiences' settings as the store keeps them: seeded from config, edited by
admins (`/group`, the console's Groups page).

The rule between the two (README, "Groups and rules: config and the store"): config decides
which groups and audiences exist and their structural keys (slug, name, kind, chats, the
group's audience). The editable settings (a group's description, join policy, member types,
roles and rules; an audience's description) are seeded from config when the store first sees
the group, and go on following config on later starts until an admin edits them; from then on
the store's value wins, and each start names the config keys it no longer follows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store.models import Audience, Group, SettingsRevision
from ccin_bridge.store.upsert import insert_new

log = logging.getLogger(__name__)
R = TypeVar("R")

# The settings an admin can edit; `rules` is the text and its version together.
EDITABLE = ("description", "join_policy", "member_types", "roles", "rules")
AUDIENCE_EDITABLE = ("description",)


@dataclass(frozen=True)
class GroupSpec:
    """A group as config gives it (the editable settings are None when not given)."""

    slug: str
    name: str
    rules_version: int
    description: str | None = None
    join_policy: str | None = None
    member_types: tuple[str, ...] | None = None
    roles: tuple[str, ...] | None = None
    rules_text: str | None = None


@dataclass(frozen=True)
class StoredGroup:
    """A group's row: None where nothing is stored yet (config's value is used)."""

    slug: str
    name: str
    rules_version: int
    description: str | None
    join_policy: str | None
    member_types: tuple[str, ...] | None
    roles: tuple[str, ...] | None
    rules_text: str | None
    edited: frozenset[str]


@dataclass(frozen=True)
class AudienceSpec:
    slug: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class StoredAudience:
    slug: str
    name: str
    description: str
    edited: frozenset[str]


def _config_values(spec: GroupSpec) -> dict[str, Any]:
    """The editable columns config gives (None: config says nothing of it)."""
    return {
        "description": spec.description,
        "join_policy": spec.join_policy,
        "member_types": list(spec.member_types) if spec.member_types is not None else None,
        "roles": list(spec.roles) if spec.roles is not None else None,
    }


async def sync_groups(session: AsyncSession, specs: Iterable[GroupSpec]) -> list[str]:
    """Seed the store from config: a group new to the store gets config's settings; for a
    known one, each setting no admin has edited follows config, and one an admin edited keeps
    the store's value. Returns the config keys so overridden whose value differs from the
    store's (`groups.officers.rules`), for the start-up log. Groups gone from config are
    kept for history (their memberships and consents refer to them)."""
    # Locked, as every writer locks the row (`_group`): an admin's edit saved meanwhile in
    # another process is waited for and then read, not overwritten with what was read before.
    existing = {g.slug: g for g in await session.scalars(_locked(select(Group).order_by(Group.id)))}
    overridden: list[str] = []
    for spec in specs:
        group = existing.get(spec.slug)
        values = _config_values(spec)
        if group is None:
            # ON CONFLICT: two processes starting at once may both find the group missing;
            # the second finds it made by the first, with the same config.
            await session.execute(
                insert_new(session, Group)
                .values(
                    slug=spec.slug,
                    name=spec.name,
                    rules_version=spec.rules_version,
                    rules_text=spec.rules_text,
                    **values,
                )
                .on_conflict_do_nothing(index_elements=[Group.slug])
            )
            continue
        group.name = spec.name
        edited = set(group.edited or ())
        for name, value in values.items():
            if value is None:
                continue
            if name not in edited:
                setattr(group, name, value)
            elif value != getattr(group, name):
                overridden.append(f"groups.{spec.slug}.{name}")
        if "rules" in edited and spec.rules_version > group.rules_version:
            # Config's rules are newer than the admin's: they apply again (a version never
            # goes back), and config decides the rules until an admin edits them again.
            log.info(
                "groups.%s.rules: config.yaml's version %d replaces the edited version %d",
                spec.slug,
                spec.rules_version,
                group.rules_version,
            )
            edited.discard("rules")
            group.edited = sorted(edited)
        if "rules" not in edited:
            group.rules_version = spec.rules_version
            if spec.rules_text is not None:
                group.rules_text = spec.rules_text
        elif spec.rules_text is not None and (spec.rules_text, spec.rules_version) != (
            group.rules_text,
            group.rules_version,
        ):
            overridden.append(f"groups.{spec.slug}.rules")
    await session.flush()
    await _bump(session)  # config may have changed settings other processes built
    return overridden


async def sync_audiences(session: AsyncSession, specs: Iterable[AudienceSpec]) -> list[str]:
    """The same rule for audiences: config's name always, its description until edited."""
    existing = {
        a.slug: a for a in await session.scalars(_locked(select(Audience).order_by(Audience.id)))
    }
    overridden: list[str] = []
    for spec in specs:
        audience = existing.get(spec.slug)
        if audience is None:
            await session.execute(
                insert_new(session, Audience)
                .values(slug=spec.slug, name=spec.name, description=spec.description)
                .on_conflict_do_nothing(index_elements=[Audience.slug])
            )
            continue
        audience.name = spec.name
        if "description" not in (audience.edited or ()):
            audience.description = spec.description
        elif audience.description != spec.description:
            overridden.append(f"audiences.{spec.slug}.description")
    await session.flush()
    await _bump(session)
    return overridden


def _record(group: Group) -> StoredGroup:
    return StoredGroup(
        slug=group.slug,
        name=group.name,
        rules_version=group.rules_version,
        description=group.description,
        join_policy=group.join_policy,
        member_types=tuple(group.member_types) if group.member_types is not None else None,
        roles=tuple(group.roles) if group.roles is not None else None,
        rules_text=group.rules_text,
        edited=frozenset(group.edited or ()),
    )


_GROUPS = cast(Table, Group.__table__)
_AUDIENCES = cast(Table, Audience.__table__)
# Built once and read as plain rows: every request reads them (handlers/group_settings.py).
_GROUP_ROWS = select(
    _GROUPS.c.slug,
    _GROUPS.c.name,
    _GROUPS.c.rules_version,
    _GROUPS.c.description,
    _GROUPS.c.join_policy,
    _GROUPS.c.member_types,
    _GROUPS.c.roles,
    _GROUPS.c.rules_text,
    _GROUPS.c.edited,
)
_AUDIENCE_ROWS = select(
    _AUDIENCES.c.slug, _AUDIENCES.c.name, _AUDIENCES.c.description, _AUDIENCES.c.edited
)


_REVISION = cast(Table, SettingsRevision.__table__)
_READ_REVISION = select(_REVISION.c.revision).where(_REVISION.c.id == 1)
# The highest revision this process's own edits made, by database (maybe not committed yet).
_written: dict[str, int] = {}


async def revision(session: AsyncSession) -> int:
    """The settings' revision: any change to a group's or audience's settings raises it."""
    return await session.scalar(_READ_REVISION) or 0


def _database(session: AsyncSession) -> str:
    return session.get_bind().engine.url.render_as_string(hide_password=True)


def written_revision(session: AsyncSession) -> int:
    """The highest revision this process's edits made: settings built before it are stale."""
    return _written.get(_database(session), 0)


async def _bump(session: AsyncSession) -> None:
    """Raise the revision, in the same transaction as the change (the row lock makes two
    writers take turns)."""
    new = await session.scalar(
        update(_REVISION)
        .where(_REVISION.c.id == 1)
        .values(revision=_REVISION.c.revision + 1)
        .returning(_REVISION.c.revision)
    )
    database = _database(session)
    _written[database] = max(_written.get(database, 0), new or 0)


def _tuple(value: list[str] | None) -> tuple[str, ...] | None:
    return tuple(value) if value is not None else None


async def stored_groups(session: AsyncSession) -> dict[str, StoredGroup]:
    rows = await session.execute(_GROUP_ROWS)
    return {
        slug: StoredGroup(
            slug,
            name,
            version,
            description,
            policy,
            _tuple(types),
            _tuple(roles),
            text,
            frozenset(edited or ()),
        )
        for slug, name, version, description, policy, types, roles, text, edited in rows
    }


async def stored_audiences(session: AsyncSession) -> dict[str, StoredAudience]:
    rows = await session.execute(_AUDIENCE_ROWS)
    return {
        slug: StoredAudience(slug, name, description, frozenset(edited or ()))
        for slug, name, description, edited in rows
    }


def _locked(query: Select[R]) -> Select[R]:
    """The rows locked until the transaction ends (PostgreSQL; SQLite's writer holds the whole
    database already) and read afresh: each writer reads, changes and writes back a row (the
    next rules version, the `edited` list), so two at once must not both read the same."""
    return query.with_for_update().execution_options(populate_existing=True)


async def _group(session: AsyncSession, slug: str) -> Group:
    group = await session.scalar(_locked(select(Group).where(Group.slug == slug)))
    if group is None:
        raise LookupError(f"group {slug!r} is not in the store; was config synced?")
    return group


def _mark(row: Group | Audience, names: Iterable[str]) -> None:
    row.edited = sorted(set(row.edited or ()) | set(names))  # a new list: JSON is not tracked


async def edit_group(
    session: AsyncSession, slug: str, changes: Mapping[str, str | Sequence[str]]
) -> StoredGroup:
    """Set the given settings (already checked: description, join_policy, member_types,
    roles) and mark them edited, so config no longer overrides them."""
    group = await _group(session, slug)
    for name, value in changes.items():
        if name not in EDITABLE or name == "rules":
            raise ValueError(f"{name!r} is not a group setting edit_group sets")
        setattr(group, name, value if isinstance(value, str) else list(value))
    _mark(group, changes)
    await session.flush()
    await _bump(session)
    return _record(group)


async def hand_back(session: AsyncSession, slug: str, names: Iterable[str]) -> None:
    """Give settings back to config: no longer edited, and emptied, so config's value is used
    at once (and copied in at the next start). Not the rules: a version never goes back."""
    group = await _group(session, slug)
    names = set(names)
    if "rules" in names or not names <= set(EDITABLE):
        raise ValueError(f"{sorted(names)}: only {', '.join(EDITABLE[:-1])} can be handed back")
    for name in names:
        setattr(group, name, None)
    group.edited = sorted(set(group.edited or ()) - names)
    await session.flush()
    await _bump(session)


async def new_rules(session: AsyncSession, slug: str, text: str) -> int:
    """A new rules text: the next version, marked edited. Returns the new version."""
    group = await _group(session, slug)
    group.rules_text = text
    group.rules_version += 1
    _mark(group, ["rules"])
    await session.flush()
    await _bump(session)
    return group.rules_version


async def edit_audience(session: AsyncSession, slug: str, *, description: str) -> None:
    audience = await session.scalar(_locked(select(Audience).where(Audience.slug == slug)))
    if audience is None:
        raise LookupError(f"audience {slug!r} is not in the store; was config synced?")
    audience.description = description
    _mark(audience, ["description"])
    await session.flush()
    await _bump(session)
