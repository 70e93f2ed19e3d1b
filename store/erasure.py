"""Erasure of a person (/forgetme and retention), decided table by table.

`PLAN` says what erasure does to every table (a test fails for a table or text column it does
not classify): the person's own rows are deleted, columns pointing at them are nulled, and
their names are redacted only in free-text columns that can quote them. Structural columns
(status, topic, kind, key, platform, slug, command, ids) are never rewritten, so a member
called "active", "reminders" or "Network" erases nobody's membership, topic or digest.

Which of their names (every display name and handle the bridge has seen, and their platform
ids) are looked for where:
- in rows that are theirs (news they submitted, pushes about them, audit entries by or about
  them): each of 3 characters or more, as a whole word, in any case;
- in everyone else's rows only what cannot be an ordinary word: a name with a space, a
  digit, `@`, `_` or `.` in it that is not also a group's or member organisation's name, or
  any name written as a handle (`@name`). A digest or broadcast saying "Officer Network"
  belongs to nobody in particular and stays as it is.
Their own name fields are blanked whatever their length.

Two phases: `begin_erasure` does all of it at once but keeps the nameless person, their
identities and queued chat removals (which need the platform ids); `finish_erasure` sweeps
again for whatever mentioned them meanwhile, then deletes those once no removal waits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Text,
    cast,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ccin_bridge.store import inbox
from ccin_bridge.store.models import (
    Base,
    ChatAction,
    Delivery,
    Group,
    Identity,
    KnownName,
    Organisation,
    Person,
    Push,
)
from ccin_bridge.store.text import like_pattern

ERASED = "[erased]"
MIN_NEEDLE = 3  # shorter names would match far too much inside other rows to redact safely
# A space, digit, @, _ or . : a full name or a handle, not a word anyone else would write.
_DISTINCTIVE = re.compile(r"[\s\d@_.]")


@dataclass(frozen=True)
class Plan:
    """What erasure does to one table. Whether a column holds a person's or an identity's id
    is read from its foreign key; JSON is redacted in its values only, never in its keys."""

    owner: str | None = None  # the person's own rows, by person or identity id: deleted
    at_finish: bool = False  # ... by finish_erasure only (chat removals still need them)
    blank: Mapping[str, Any] = field(default_factory=dict)  # own fields, emptied at once
    theirs: tuple[str, ...] = ()  # where these point at the person, the row is theirs
    pointers: tuple[str, ...] = ()  # nulled where they point at the person or their accounts
    text: tuple[str, ...] = ()  # free text that can quote a name
    kept: tuple[str, ...] = ()  # text never rewritten: structure, or others' own names
    kept_keys: frozenset[str] = frozenset()  # JSON keys whose values are structure
    untouched: str = ""  # why erasure never looks at the table


_REFERENCE = Plan(untouched="public reference data, loaded from the seeds")
# A stored reply (handlers/reply_codec.py): buttons carry config labels and command lines,
# attachments are files; people's names are only ever in the blocks' text.
_REPLY_STRUCTURE = frozenset({"v", "private", "kind", "buttons", "attachment"})

PLAN: dict[str, Plan] = {
    "people": Plan(
        owner="id",
        at_finish=True,
        blank={"display_name": "", "role": None, "organisation_id": None},
    ),
    "identities": Plan(
        owner="person_id",
        at_finish=True,
        blank={
            "display_name": "",
            "username": None,
            "active": False,
            "is_admin": False,
            "address": None,
        },
        kept=("platform", "external_id"),
    ),
    "known_names": Plan(owner="identity_id", kept=("name",)),
    # role: one of the group's listed roles (structure); the row goes with the person anyway
    "memberships": Plan(owner="person_id", text=("reason",), kept=("status", "role")),
    "consents": Plan(owner="person_id", kept=("platform",)),
    "subscriptions": Plan(owner="person_id", kept=("topic", "source")),
    "link_codes": Plan(owner="person_id", pointers=("claimed_by",), kept=("code",)),
    "console_codes": Plan(owner="identity_id", kept=("browser_hash", "code_hash")),
    "console_sessions": Plan(owner="identity_id", kept=("token_hash", "csrf")),
    "conversations": Plan(
        owner="identity_id",
        text=("data",),
        kept=("command", "step"),
        kept_keys=frozenset({"group", "audience"}),
    ),
    "deliveries": Plan(
        owner="identity_id",
        text=("error",),
        kept=("platform", "chat_id", "status", "claimed_by", "lane"),
    ),
    "chat_actions": Plan(
        owner="person_id",
        at_finish=True,
        theirs=("person_id", "identity_id"),
        text=("error",),
        kept=("kind", "group_slug", "platform", "chat_id", "status"),
    ),
    "pushes": Plan(
        theirs=("subject_id",),
        pointers=("created_by", "subject_id"),
        text=("title", "payload"),
        kept=("kind", "key", "audience"),
        kept_keys=_REPLY_STRUCTURE,
    ),
    "audit_log": Plan(
        theirs=("actor_id", "subject_id"),
        pointers=("actor_id", "subject_id"),
        text=("detail",),
        kept=("action",),
        kept_keys=frozenset(
            {"group", "groups", "platform", "audience", "via", "chat", "old_chat", "new_chat"}
        ),
    ),
    "news_items": Plan(
        theirs=("submitted_by",),
        pointers=("submitted_by", "decided_by"),
        text=("title", "body", "url", "reason"),
        kept=("status", "audience"),
    ),
    # Long button actions: command lines, which may hold words someone typed (a search).
    "callback_tokens": Plan(text=("action",), kept=("token",)),
    "chat_aliases": Plan(untouched="chat ids, never a person's"),
    # A push's links and their counts per day: nobody's clicks. The item (a link's words, a
    # news title) and its address can name someone, as the push's text can.
    "link_tokens": Plan(text=("item", "url"), kept=("token", "audience")),
    "link_clicks": Plan(untouched="counts per link and day, never who clicked"),
    # Which of their messages were relayed, by message id only: deleted with them (their
    # copies are taken down first, handlers/relay_erasure.py), and each copy's row with it.
    "relay_messages": Plan(
        owner="person_id", kept=("group_slug", "platform", "chat_id", "message_id")
    ),
    "relay_copies": Plan(untouched="message ids, deleted with the relayed message they copy"),
    # What their accounts sent is deleted in `_sweep` (by platform and sender id: it is not a
    # foreign key). Other people's updates stay as they came: they are being handled, and
    # their content is dropped once they are, seconds later.
    "inbound_updates": Plan(
        kept=("platform", "key", "chat_key", "sender", "status", "payload", "replies")
    ),
    "groups": Plan(untouched="the groups' settings, from config or edited by admins"),
    "audiences": Plan(untouched="the newsletter audiences' settings"),
    "settings_revision": Plan(untouched="one counter of settings changes, about no one"),
    "organisations": _REFERENCE,
    "principles": _REFERENCE,
    "categories": _REFERENCE,
    "case_studies": _REFERENCE,
    "projects": _REFERENCE,
    "dps_frameworks": _REFERENCE,
    "suppliers": _REFERENCE,
    "events": _REFERENCE,
    "event_feeds": _REFERENCE,  # feed URLs and their fetch state, nobody's
    "search_docs": _REFERENCE,
    "search_terms": _REFERENCE,
    "search_pending": _REFERENCE,
    "search_state": _REFERENCE,
}

_MODELS = {mapper.class_.__tablename__: mapper.class_ for mapper in Base.registry.mappers}


async def begin_erasure(session: AsyncSession, person_id: int, now: datetime) -> None:
    """Strip the person of everything but the platform ids that queued chat removals need:
    the nameless person and identities stay until `finish_erasure`."""
    await session.flush()  # chat removals just queued for them are written first
    await _sweep(session, person_id, finish=False)
    person = await session.get_one(Person, person_id)
    person.forget_requested_at = now


async def finish_erasure(session: AsyncSession, person_id: int) -> bool:
    """Delete the person and identities once no chat removal is waiting. True if done."""
    waiting = await session.scalar(
        select(func.count())
        .select_from(ChatAction)
        .where(ChatAction.person_id == person_id, ChatAction.status.in_(["pending", "running"]))
    )
    if waiting:
        return False
    # Sweep again: failed removals were reported about them, and they may have come back.
    await _sweep(session, person_id, finish=True)
    return True


async def erasures_waiting(session: AsyncSession) -> list[int]:
    rows = await session.scalars(select(Person.id).where(Person.forget_requested_at.is_not(None)))
    return list(rows)


async def _sweep(session: AsyncSession, person_id: int, *, finish: bool) -> None:
    identity_ids = list(
        await session.scalars(select(Identity.id).where(Identity.person_id == person_id))
    )
    ids = {"people": [person_id], "identities": identity_ids}
    names = await _names(session, person_id, identity_ids)
    ordered = [t for t in reversed(Base.metadata.sorted_tables) if t.name in PLAN]
    for table in ordered:
        plan = PLAN[table.name]
        if plan.owner and not plan.at_finish:
            await _delete(session, table.name, _points(table.c[plan.owner], ids))
    accounts = await session.execute(
        select(Identity.platform, Identity.external_id).where(Identity.id.in_(identity_ids))
    )
    for platform, external_id in accounts.all():
        await inbox.erase_sender(session, platform, external_id)
    # A notice to them alone is theirs: once their deliveries are gone, nothing needs it.
    await session.execute(
        delete(Push).where(
            Push.subject_id == person_id, ~exists().where(Delivery.push_id == Push.id)
        )
    )
    await redact(session, names, ids)
    for table in ordered:
        for name in PLAN[table.name].pointers:
            await _update(session, table.name, _points(table.c[name], ids), values={name: None})
    for table in ordered:
        plan = PLAN[table.name]
        if plan.owner and plan.at_finish:
            where = _points(table.c[plan.owner], ids)
            if finish:
                await _delete(session, table.name, where)
            elif plan.blank:
                await _update(session, table.name, where, values=plan.blank)


async def _names(session: AsyncSession, person_id: int, identity_ids: list[int]) -> set[str]:
    """Every name, handle and platform id the bridge has seen for the person."""
    person = await session.get(Person, person_id)
    found = {person.display_name} if person is not None else set()
    for identity in await session.scalars(select(Identity).where(Identity.id.in_(identity_ids))):
        found |= {identity.display_name, identity.username or "", identity.external_id}
    found |= set(
        await session.scalars(select(KnownName.name).where(KnownName.identity_id.in_(identity_ids)))
    )
    return {n.strip() for n in found if n.strip()}


async def redact(
    session: AsyncSession, names: Iterable[str], ids: Mapping[str, Collection[int]]
) -> None:
    """Redact these names in every free-text column of `PLAN`: all of them (3+ characters) in
    rows that are theirs (pointing at these ids); in everyone else's only the distinctive
    ones, and never a name the row's own subject shares (a namesake's join request keeps
    "Sarah Jones"; another's news quoting her loses it)."""
    mine = _unique(n for n in names if len(n) >= MIN_NEEDLE)
    if not mine:
        return
    common = await _common_names(session)
    distinctive = [n for n in mine if _DISTINCTIVE.search(n) and not _pattern([n]).search(common)]
    distinctive += [f"@{n}" for n in mine if not re.search(r"[\s@]", n)]
    for table in Base.metadata.sorted_tables:
        plan = PLAN.get(table.name, Plan())
        if not plan.text:
            continue
        columns = [table.c[c] for c in plan.text]
        seen: set[tuple[Any, ...]] = set()
        if plan.theirs:
            theirs = or_(*(_points(table.c[c], ids) for c in plan.theirs))
            seen = await _scrub_rows(session, columns, theirs, mine, plan, seen)
        if distinctive:
            found = or_(
                *(
                    cast(c, Text).ilike(p, escape="\\")
                    for c in columns
                    for p in _like_patterns(distinctive)
                )
            )
            await _scrub_rows(session, columns, found, distinctive, plan, seen, namesakes=True)


async def _common_names(session: AsyncSession) -> str:
    """Group and member organisation names, where a person's name would not be theirs."""
    rows = [
        *await session.scalars(select(Group.name)),
        *await session.scalars(select(Organisation.name)),
    ]
    return "\n".join(rows)


async def _scrub_rows(
    session: AsyncSession,
    columns: list[Column[Any]],
    where: ColumnElement[bool],
    needles: list[str],
    plan: Plan,
    skip: set[tuple[Any, ...]],
    *,
    namesakes: bool = False,
) -> set[tuple[Any, ...]]:
    """Redact whole-word matches in the rows `where` selects (the query only finds
    candidates); returns their keys, with `skip`'s, which are left as they are. With
    `namesakes`, a row about someone (`subject_id`) keeps the names that are that person's."""
    table = columns[0].table
    keys = list(table.primary_key.columns)
    subject = table.c.get("subject_id") if namesakes else None
    extra = [subject] if subject is not None else []
    rows = (await session.execute(select(*keys, *columns, *extra).where(where))).all()
    theirs_names = await _names_of_people(
        session, {row[-1] for row in rows if subject is not None and row[-1] is not None}
    )
    patterns: dict[frozenset[str], re.Pattern[str]] = {}
    seen = set(skip)
    for row in rows:
        key = tuple(row[: len(keys)])
        if key in seen:
            continue
        seen.add(key)
        values = row[len(keys) : len(keys) + len(columns)]
        shared = theirs_names.get(row[-1], set()) if subject is not None else set()
        wanted = frozenset(n for n in needles if n.casefold().lstrip("@") not in shared)
        if not wanted:
            continue
        pattern = patterns.get(wanted) or patterns.setdefault(wanted, _pattern(sorted(wanted)))
        old = dict(zip((c.name for c in columns), values, strict=True))
        new = {c.name: _fit(_scrub(old[c.name], pattern, plan.kept_keys), c) for c in columns}
        if new != old:
            match = [k == v for k, v in zip(keys, key, strict=True)]
            await _update(session, table.name, *match, values=new)
    return seen


async def _names_of_people(session: AsyncSession, person_ids: set[int]) -> dict[int, set[str]]:
    """Each person's names and handles as they stand and as they were (case-folded)."""
    found: dict[int, set[str]] = {p: set() for p in person_ids}
    if not person_ids:
        return found
    queries = (
        select(Person.id, Person.display_name).where(Person.id.in_(person_ids)),
        select(Identity.person_id, Identity.display_name).where(Identity.person_id.in_(person_ids)),
        select(Identity.person_id, Identity.username).where(Identity.person_id.in_(person_ids)),
        select(Identity.person_id, KnownName.name)
        .join(KnownName, KnownName.identity_id == Identity.id)
        .where(Identity.person_id.in_(person_ids)),
    )
    for query in queries:
        for person_id, name in await session.execute(query):
            if name:
                found[person_id].add(name.casefold())
    return found


def _scrub(value: Any, pattern: re.Pattern[str], kept_keys: frozenset[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, list):
        return [_scrub(v, pattern, kept_keys) for v in value]
    if isinstance(value, dict):
        return {k: v if k in kept_keys else _scrub(v, pattern, kept_keys) for k, v in value.items()}
    return value


def _fit(value: Any, column: Column[Any]) -> Any:
    """Keep within the column's length, which `ERASED` may pass where it replaces a name."""
    length = getattr(column.type, "length", None)
    return value[:length] if isinstance(value, str) and length else value


def _pattern(needles: Iterable[str]) -> re.Pattern[str]:
    """Whole words in any case; the words of a full name may be split by any whitespace."""
    spelled = [
        r"\s+".join(map(re.escape, n.split())) for n in sorted(needles, key=len, reverse=True)
    ]
    return re.compile(rf"(?<!\w)(?:{'|'.join(spelled)})(?!\w)", re.IGNORECASE)


def _like_patterns(needles: Iterable[str]) -> set[str]:
    """LIKE patterns finding candidates, also in JSON text that spells non-ASCII as escapes."""
    patterns = set()
    for needle in needles:
        for spelling in (needle, json.dumps(needle)[1:-1]):
            words = [like_pattern(w)[1:-1] for w in spelling.split()]
            patterns.add("%" + "%".join(words) + "%")
    return patterns


def _unique(names: Iterable[str]) -> list[str]:
    return list({n.casefold(): n for n in names}.values())


def _points(column: Column[Any], ids: Mapping[str, Collection[int]]) -> ColumnElement[bool]:
    """`column` holds the person's id, or one of their identities'."""
    if column.primary_key and column.table.name in ids:
        target = column.table.name
    else:
        target = next(fk.column.table.name for fk in column.foreign_keys)
    return column.in_(list(ids[target]))


async def _delete(session: AsyncSession, table_name: str, where: ColumnElement[bool]) -> None:
    # Through the model, so objects the session has loaded see the change.
    await session.execute(
        delete(_MODELS[table_name]).where(where).execution_options(synchronize_session="fetch")
    )


async def _update(
    session: AsyncSession,
    table_name: str,
    *where: ColumnElement[bool],
    values: Mapping[str, Any],
) -> None:
    await session.execute(
        update(_MODELS[table_name])
        .where(*where)
        .values(dict(values))
        .execution_options(synchronize_session="fetch")
    )
