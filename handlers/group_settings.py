"""Groups and audiences as they are now: config's, with the settings the store holds laid over.

Config decides which groups and audiences exist and their structural keys; the store holds the
editable settings, seeded from config and then edited by admins (store/group_settings.py has
the rule). Everything that reads a group's settings at run time reads `live(...)`: the
commands get it as `Context.settings`, the scheduled jobs from `Bridge.live_settings`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import get_args

from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.handlers.config import (
    AudienceConfig,
    GroupConfig,
    MemberType,
    Rules,
    Settings,
)
from ccin_bridge.handlers.requests import clean_multiline
from ccin_bridge.store import group_settings as store

log = logging.getLogger(__name__)

MEMBER_TYPES: tuple[str, ...] = get_args(MemberType)
JOIN_POLICIES = ("open", "approval")
MAX_DESCRIPTION = 1000
MAX_ROLE = 80
MAX_ROLES = 12
MAX_RULES = 3500  # one chat message with the command before it (MAX_TEXT is 4,000)


def _spec(group: GroupConfig) -> store.GroupSpec:
    return store.GroupSpec(
        slug=group.slug,
        name=group.name,
        rules_version=group.rules.version,
        description=group.description,
        join_policy=group.join_policy,
        member_types=tuple(group.member_types),
        roles=tuple(group.roles),
        rules_text=group.rules.text,
    )


async def seed(session: AsyncSession, settings: Settings) -> list[str]:
    """Seed the store from config (at start); logs, once, the config keys the store's edited
    values now override. Returns those keys."""
    overridden = await store.sync_groups(session, [_spec(g) for g in settings.groups])
    overridden += await store.sync_audiences(
        session, [store.AudienceSpec(a.slug, a.name, a.description) for a in settings.audiences]
    )
    if overridden:
        log.warning(
            "config.yaml differs from settings an admin edited, which are kept (edit them "
            "with /group or on the console's Groups page): %s",
            ", ".join(overridden),
        )
    return overridden


def _group(config: GroupConfig, row: store.StoredGroup | None) -> GroupConfig:
    if row is None:
        return config
    update: dict[str, object] = {}
    if row.description is not None:
        update["description"] = row.description
    if row.join_policy is not None:
        update["join_policy"] = row.join_policy
    if row.member_types:
        update["member_types"] = list(row.member_types)
    if row.roles:
        update["roles"] = list(row.roles)
    if row.rules_version != config.rules.version or row.rules_text is not None:
        update["rules"] = Rules(version=row.rules_version, text=row.rules_text or config.rules.text)
    return config.model_copy(update=update) if update else config


def _audience(config: AudienceConfig, row: store.StoredAudience | None) -> AudienceConfig:
    if row is None or row.description == config.description:
        return config
    return config.model_copy(update={"description": row.description})


async def live(session: AsyncSession, settings: Settings) -> Settings:
    """`settings` with each group's and audience's editable settings as the store has them."""
    return _overlay(settings, *await _stored(session, settings))


async def _stored(session: AsyncSession, settings: Settings) -> tuple[Stored, Audiences]:
    groups = await store.stored_groups(session)
    audiences = await store.stored_audiences(session) if settings.audiences else {}
    return groups, audiences


Stored = dict[str, store.StoredGroup]
Audiences = dict[str, store.StoredAudience]


def _overlay(settings: Settings, groups: Stored, audiences: Audiences) -> Settings:
    return settings.model_copy(
        update={
            "groups": [_group(g, groups.get(g.slug)) for g in settings.groups],
            "audiences": [_audience(a, audiences.get(a.slug)) for a in settings.audiences],
        }
    )


FRESH_FOR = 2.0  # seconds a process uses the settings it built without asking the store


@dataclass(frozen=True)
class _Built:
    checked_at: float  # monotonic
    revision: int
    config: Settings
    live: Settings


class LiveSettings:
    """`live` for one process, cheap enough for every request: the settings built are used
    as they are for up to `FRESH_FOR` seconds (an edit in another process applies within
    that), then one read of the store's settings revision says whether to build them again.
    This process's own edits apply at once (the revision they wrote is newer than the one
    built)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._built: _Built | None = None

    async def get(self, session: AsyncSession, settings: Settings) -> Settings:
        now = self._clock()
        built = self._built
        if built is not None and built.config is not settings:
            built = None
        if (
            built is not None
            and built.revision >= store.written_revision(session)
            and now - built.checked_at < FRESH_FOR
        ):
            return built.live
        revision = await store.revision(session)
        if built is not None and revision == built.revision:
            self._built = replace(built, checked_at=now)
            return built.live
        live = _overlay(settings, *await _stored(session, settings))
        self._built = _Built(now, revision, settings, live)
        return live


# --- checking an edit -------------------------------------------------------------------------

FIELDS = ("description", "join_policy", "member_types", "roles", "rules")
LABELS = {
    "description": "Description",
    "join_policy": "Join policy",
    "member_types": "Member types",
    "roles": "Roles",
    "rules": "Rules of engagement",
}
# What people may type for a setting's name in chat.
ALIASES = {
    "description": "description",
    "join_policy": "join_policy",
    "join-policy": "join_policy",
    "policy": "join_policy",
    "member_types": "member_types",
    "member-types": "member_types",
    "types": "member_types",
    "roles": "roles",
    "rules": "rules",
}


def _items(value: str) -> list[str]:
    """`full, associate` or one per line, as typed or as a form's checkboxes joined."""
    parts = value.replace("\n", ",").split(",")
    return [p.strip() for p in parts if p.strip()]


# A form gives each field's value as it was drawn too, under this prefix (`was_rules`), so a
# save applies only what this admin changed and never reverts what another saved meanwhile.
DRAWN = "was_"
MOVED = "Another admin changed this since you opened the form; reload the page to see it"


def form_values(group: GroupConfig) -> dict[str, str]:
    """Each field's value as a form shows it (lists comma-separated)."""
    return {
        "description": group.description,
        "join_policy": group.join_policy,
        "member_types": ", ".join(group.member_types),
        "roles": ", ".join(group.roles),
        "rules": group.rules.text.strip(),
    }


def _same(name: str, one: str, other: str) -> bool:
    """Equal as settings: line breaks, spaces around and indents aside, lists as their items, and
    member types and the join policy in any case (as `check` reads them)."""
    # As a form's answers are cleaned on their way in (an indented line loses its indent).
    a, b = (clean_multiline(v) for v in (one, other))
    if name in ("member_types", "join_policy"):
        a, b = a.casefold(), b.casefold()
    if name in ("member_types", "roles"):
        return _items(a) == _items(b)
    return a == b


def changed_since_drawn(
    group: GroupConfig, answers: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """A form's answers with the drawn values (`DRAWN`): the fields this admin changed, and
    those refused because the group's value moved since the form was drawn (by field). A
    field without its drawn value is kept as given."""
    now = form_values(group)
    kept = {k: v for k, v in answers.items() if not k.startswith(DRAWN)}
    moved: dict[str, str] = {}
    for name in FIELDS:
        drawn = answers.get(DRAWN + name)
        if drawn is None or name not in kept:
            continue
        if _same(name, kept[name], drawn) or _same(name, kept[name], now[name]):
            del kept[name]  # not changed by this admin, or already as they want it
        elif not _same(name, now[name], drawn):
            moved[name] = MOVED
    return kept, moved


def check(
    group: GroupConfig, answers: Mapping[str, str]
) -> tuple[dict[str, str | list[str]], dict[str, str]]:
    """The settings `answers` change (by field, checked and cleaned), and the problems found,
    by field, in words for the admin. A field left out, or the same as now, changes nothing."""
    changes: dict[str, str | list[str]] = {}
    errors: dict[str, str] = {}
    for name in FIELDS:
        if name not in answers:
            continue
        raw = answers[name].replace("\r\n", "\n").strip()
        if name == "description":
            if not raw:
                errors[name] = "Enter a description of the group"
            elif len(raw) > MAX_DESCRIPTION:
                errors[name] = f"The description must be {MAX_DESCRIPTION:,} characters or fewer"
            elif raw != group.description:
                changes[name] = raw
        elif name == "join_policy":
            policy = raw.casefold()
            if policy not in JOIN_POLICIES:
                errors[name] = "Choose open or approval"
            elif policy != group.join_policy:
                changes[name] = policy
        elif name == "member_types":
            types = [t.casefold() for t in _items(raw)]
            unknown = [t for t in types if t not in MEMBER_TYPES]
            if not types:
                errors[name] = "Choose at least one member type"
            elif unknown:
                errors[name] = f"“{unknown[0][:40]}” is not a member type; they are " + ", ".join(
                    MEMBER_TYPES
                )
            else:
                chosen = [t for t in MEMBER_TYPES if t in types]  # in the usual order, once
                if chosen != list(group.member_types):
                    changes[name] = chosen
        elif name == "roles":
            roles = list(dict.fromkeys(_items(raw)))
            if not roles:
                errors[name] = "Enter at least one role, separated by commas"
            elif len(roles) > MAX_ROLES:
                errors[name] = f"A group can list at most {MAX_ROLES} roles"
            elif any(len(r) > MAX_ROLE for r in roles):
                errors[name] = f"Each role must be {MAX_ROLE} characters or fewer"
            elif roles != list(group.roles):
                changes[name] = roles
        else:
            if not raw:
                errors[name] = "Enter the rules of engagement"
            elif len(raw) > MAX_RULES:
                errors[name] = f"The rules must be {MAX_RULES:,} characters or fewer"
            elif raw != group.rules.text.strip():
                changes[name] = raw
    return changes, errors
