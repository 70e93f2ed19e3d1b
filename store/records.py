"""Plain, immutable records that the store hands out (no sessions, no lazy loading)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any


@dataclass(frozen=True)
class PersonRecord:
    id: int
    display_name: str
    organisation: str | None
    role: str | None


@dataclass(frozen=True)
class PersonName:
    """A person as far as naming them goes, and whether their erasure is under way."""

    id: int
    display_name: str
    forgetting: bool  # /forgetme (or retention) has begun erasing them


@dataclass(frozen=True)
class IdentityRecord:
    """One platform account of a person."""

    id: int
    person_id: int
    platform: str
    external_id: str
    display_name: str
    username: str | None


@dataclass(frozen=True)
class MembershipRecord:
    group_slug: str
    status: str
    reason: str | None
    updated_at: datetime


@dataclass(frozen=True)
class OrganisationRecord:
    id: int
    name: str
    member_type: str
    subtype: str | None


@dataclass(frozen=True)
class DpsRecord:
    name: str
    starts_on: date
    ends_on: date
    eligible_member_types: tuple[str, ...]
    how_to_access: str | None
    as_of: date | None


@dataclass(frozen=True)
class SupplierRecord:
    name: str
    services: str | None
    lots: tuple[str, ...]
    website: str | None


@dataclass(frozen=True)
class EventRecord:
    id: int
    title: str
    starts_on: date | None
    ends_on: date | None
    date_text: str | None
    status: str
    start_time: time | None
    rrule: str | None
    duration_minutes: int | None
    location: str | None
    online: bool | None
    url: str | None
    summary: str
    uid: str | None = None
    recurrence_on: date | None = None  # the date of its series this one replaces
    exdates: tuple[date, ...] = ()  # dates a series does not meet on
    rdates: tuple[date, ...] = ()  # extra dates of a series
    feed_id: int | None = None


@dataclass(frozen=True)
class SearchHit:
    kind: str  # "case_study" | "project"
    id: int
    title: str
    url: str | None
    member: str | None
    year: str | None
    summary: str
    score: float
    tags: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class SearchPage:
    hits: tuple[SearchHit, ...]
    total: int
    offset: int
    corrections: dict[str, str] = field(default_factory=dict)  # typed word -> word searched
    relaxed: bool = False  # no document had every word; these have some of them
    problems: tuple[str, ...] = ()  # filters that could not be used
    terms: tuple[str, ...] = ()  # the words searched for, for highlighting


@dataclass(frozen=True)
class AuditRecord:
    """One audit-log entry: who (a person id, None for the system) did what, when."""

    id: int
    at: datetime
    actor_id: int | None
    action: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class PushSummary:
    """A push as a list of recent ones shows it."""

    id: int
    kind: str
    title: str
    created_at: datetime
