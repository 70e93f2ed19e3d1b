"""SQLAlchemy 2 typed models. Platform objects are never stored: only ids and plain text.

Every change here needs an Alembic revision in `store/migrations/versions/`
(`tests/store/test_migrations.py` fails when the models and migrations drift apart).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (naive text) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


# --- people ---------------------------------------------------------------------------------


class Person(Base):
    """One human, whatever platforms they use (identities are linked to a person)."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    role: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # /forgetme: set while removals from real chats are still queued; the row (already
    # stripped of names) is deleted with its identities once they are done.
    forget_requested_at: Mapped[datetime | None] = mapped_column()
    identities: Mapped[list[Identity]] = relationship(
        back_populates="person", cascade="all, delete-orphan"
    )


class Identity(Base):
    """A person's account on one platform; `active` turns false when they block the bot.

    Admin rights belong to the account they were granted to (config `admins` or `admin
    grant`), not to the person, so linking another account to it never passes them on.
    """

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    username: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # How the platform reaches this account when the bridge writes first, where its id is not
    # enough (a Teams conversation reference); set and read through store/addresses.py only.
    address: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    person: Mapped[Person] = relationship(back_populates="identities")


class KnownName(Base):
    """Every display name and handle an account has had: erasure must find the old ones too."""

    __tablename__ = "known_names"
    __table_args__ = (UniqueConstraint("identity_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Organisation(Base):
    """A member of the network, with its membership type as of the seed date."""

    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    member_type: Mapped[str] = mapped_column(String(16), index=True)
    subtype: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(80))


# --- groups -----------------------------------------------------------------------------------


class Group(Base):
    """A group of config's, with its editable settings (seeded from config, then edited by
    admins: store/group_settings.py). NULL: not seeded yet, config's value is used."""

    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    rules_version: Mapped[int] = mapped_column(Integer, default=1)
    description: Mapped[str | None] = mapped_column(Text)
    join_policy: Mapped[str | None] = mapped_column(String(16))
    member_types: Mapped[list[str] | None] = mapped_column(JSON)
    roles: Mapped[list[str] | None] = mapped_column(JSON)
    rules_text: Mapped[str | None] = mapped_column(Text)
    # The settings an admin edited: config no longer overrides them at start.
    edited: Mapped[list[str] | None] = mapped_column(JSON)


class SettingsRevision(Base):
    """One row, bumped with every change to groups' or audiences' settings: each process
    checks it (one read by key) to know whether the settings it built are still the store's."""

    __tablename__ = "settings_revision"
    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Audience(Base):
    """A newsletter audience of config's, with its description as admins last set it."""

    __tablename__ = "audiences"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    edited: Mapped[list[str] | None] = mapped_column(JSON)


class Membership(Base):
    """A person's place in a group: pending -> active, or declined / left / removed."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("person_id", "group_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    # The role given when joining this group: a councillor in one group may be an officer in
    # another, so it belongs to the membership (the person's own `role` is the latest given).
    role: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Consent(Base):
    """Acceptance of a group's rules of engagement: who, which version, when, where."""

    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    rules_version: Mapped[int] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(16))
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(Base):
    """A person's choice about one topic (`digest:<audience>`, `reminders`, `announcements`).

    `wanted` false records an explicit opt-out, so group defaults never re-subscribe them.
    `source` is "group" for a row a group's defaults made (leaving the group ends it) and None
    for the person's own choice, which no group's leaving touches.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("person_id", "topic"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(64))
    wanted: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    source: Mapped[str | None] = mapped_column(String(16), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- reference data ---------------------------------------------------------------------------


class Principle(Base):
    __tablename__ = "principles"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(80))


class Category(Base):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(80))


class CaseStudy(Base):
    __tablename__ = "case_studies"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300), index=True)
    url: Mapped[str | None] = mapped_column(String(500), unique=True)  # the import key
    member: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(100))
    year: Mapped[str | None] = mapped_column(String(16))
    categories: Mapped[list[str]] = mapped_column(default=list)
    principles: Mapped[list[str]] = mapped_column(default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Project(Base):
    """A funded project (policy lab, policy prototype), a report, or another resource of the
    network (`other`: its members' pack, training); categories and principles only where the
    seeds say which it serves."""

    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    lead: Mapped[str | None] = mapped_column(String(200))
    partners: Mapped[list[str]] = mapped_column(default=list)
    year: Mapped[str | None] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, default="")
    categories: Mapped[list[str]] = mapped_column(default=list)
    principles: Mapped[list[str]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DpsFramework(Base):
    """The Dynamic Purchasing System: its period and which members may use it."""

    __tablename__ = "dps_frameworks"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    eligible_member_types: Mapped[list[str]] = mapped_column(default=list)
    how_to_access: Mapped[str | None] = mapped_column(Text)
    as_of: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(80))


class Supplier(Base):
    __tablename__ = "suppliers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    services: Mapped[str | None] = mapped_column(Text)
    lots: Mapped[list[str]] = mapped_column(default=list)
    website: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(80))
    # When it joined the list; NULL for suppliers stored before this was recorded.
    created_at: Mapped[datetime | None] = mapped_column(default=utcnow)


def _partial_unique(name: str, columns: tuple[str, ...], where: str) -> Index:
    clause = text(where)
    return Index(name, *columns, unique=True, sqlite_where=clause, postgresql_where=clause)


class Event(Base):
    """A dated event, or a recurring meeting described by an RFC 5545 RRULE.

    Dates and times are wall-clock in the network's time zone, because that is how the seeds
    state them; a missing time stays missing rather than being guessed.
    """

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    date_text: Mapped[str | None] = mapped_column(String(200))  # "spring 2025" when no day is known
    status: Mapped[str] = mapped_column(
        String(16), default="planned"
    )  # held, superseded, cancelled
    start_time: Mapped[time | None] = mapped_column(Time)
    rrule: Mapped[str | None] = mapped_column(String(200))
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    location: Mapped[str | None] = mapped_column(String(300))
    online: Mapped[bool | None] = mapped_column(Boolean)
    url: Mapped[str | None] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(80))
    # From a calendar file or feed: its UID, so a changed or moved event is updated in place.
    uid: Mapped[str | None] = mapped_column(String(255), index=True)
    # An override of one date of a series (its RECURRENCE-ID): the series' row has the same
    # uid and lists that date in `exdates`; this row says where and when it is instead.
    recurrence_on: Mapped[date | None] = mapped_column(Date)
    # ISO dates a series does not meet on (EXDATE, or moved away), and extra dates (RDATE).
    exdates: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    rdates: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    feed_id: Mapped[int | None] = mapped_column(
        ForeignKey("event_feeds.id", ondelete="SET NULL"), index=True
    )
    # An event is one by its calendar UID (and the date an override replaces); one without a
    # UID, by its title and day. Two calendars may each have a "Cabinet" on the same day, and
    # a series shares both with an override of its first date.
    __table_args__ = (
        _partial_unique("uq_events_title_day", ("title", "starts_on"), "uid IS NULL"),
        _partial_unique("uq_events_uid", ("uid",), "uid IS NOT NULL AND recurrence_on IS NULL"),
        _partial_unique(
            "uq_events_uid_date", ("uid", "recurrence_on"), "recurrence_on IS NOT NULL"
        ),
    )


class EventFeed(Base):
    """A subscribed calendar feed, fetched again every `every_minutes` (None: by hand only).

    `etag` and `last_modified` are the server's validators from the last fetch, sent back so an
    unchanged feed costs a 304. Events it brought carry its id; one gone from the feed is
    marked cancelled, never deleted, so nobody is reminded of it and its history stays.
    """

    __tablename__ = "event_feeds"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(1000), unique=True)
    every_minutes: Mapped[int | None] = mapped_column(Integer)
    etag: Mapped[str | None] = mapped_column(String(300))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    checked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    changed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SearchDoc(Base):
    """One searchable item (case study, project, publication, resource, supplier or member).

    The `text_*` columns hold folded text (lower case, no accents, no hyphens inside words) for
    the full-text index: SQLite FTS5 with BM25 (a virtual table kept in step by triggers) or a
    weighted PostgreSQL tsvector with a GIN index, in a narrow table `search_fts` of its own,
    also kept in step by triggers. Both are raw DDL outside the ORM (migrations 0002, 0011).
    Display fields are copied so results need no second query.
    """

    __tablename__ = "search_docs"
    __table_args__ = (
        UniqueConstraint("kind", "ref_id"),
        # filters without words page newest first through it (migrations 0004, 0011: the id
        # makes it cover the page on PostgreSQL, as SQLite's rowid does)
        Index("ix_search_docs_kind_year", "kind", "year_from", "title", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    ref_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(500))
    member: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(100))
    year_from: Mapped[int | None] = mapped_column(Integer, index=True)
    year_label: Mapped[str | None] = mapped_column(String(16))
    categories: Mapped[list[str]] = mapped_column(default=list)
    principles: Mapped[list[str]] = mapped_column(default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    text_title: Mapped[str] = mapped_column(Text, default="")
    text_tags: Mapped[str] = mapped_column(Text, default="")
    text_body: Mapped[str] = mapped_column(Text, default="")
    # ";"-separated folded facet values, for category: and principle: filters
    facet_categories: Mapped[str] = mapped_column(Text, default="")
    facet_principles: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SearchTerm(Base):
    """The index's vocabulary (folded, unstemmed words and their document counts), for typos."""

    __tablename__ = "search_terms"
    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    docs: Mapped[int] = mapped_column(Integer)


class SearchPending(Base):
    """A source row (case study, project, supplier, organisation) written since the index last
    read it.

    Triggers on the source tables add these in the writer's transaction (migrations 0011, 0013);
    `search_index.sync` takes them, so it re-reads only what changed."""

    __tablename__ = "search_pending"
    source: Mapped[str] = mapped_column(String(16), primary_key=True)  # the source's table
    ref_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class SearchState(Base):
    """`format`: the index format `sync` last wrote whole; `in_step`: 1 until something other
    than `sync` writes search_docs (a trigger clears it). Either off means a whole check."""

    __tablename__ = "search_state"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class NewsItem(Base):
    """A news item for the digest: submitted -> approved | rejected; `digested_at` once sent."""

    __tablename__ = "news_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    audience: Mapped[str | None] = mapped_column(String(32))  # None: every audience
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)
    digested_at: Mapped[datetime | None] = mapped_column()


# --- operations ---------------------------------------------------------------------------


class AuditEntry(Base):
    """What an admin (or the system) did; `actor_id` is nulled if that person is erased.

    `subject_id` is the person an entry is about (approved, removed...), so erasing them
    redacts their names in it without touching entries about anyone else.
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    subject_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    # The Engagement charts read a few actions over all time, oldest first.
    __table_args__ = (Index("ix_audit_log_action_at", "action", "at"),)


class Push(Base):
    """One thing sent to many: a broadcast, a digest, a reminder or a notice to admins.

    `key` makes scheduled pushes idempotent (`digest:officers:2026-12`): a job that runs twice
    finds the key taken and sends nothing. `payload` is the neutral reply as JSON.
    `subject_id` is the person a push is about (their approval card, a notice to them), so
    erasing them redacts it without touching digests or broadcasts that merely share a word.
    """

    __tablename__ = "pushes"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    key: Mapped[str | None] = mapped_column(String(160), unique=True)
    audience: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    subject_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    reported_at: Mapped[datetime | None] = mapped_column()  # delivery report sent to creator


class Delivery(Base):
    """One push to one chat: pending -> claimed -> sending -> sent | failed | blocked.

    A row left in `sending` by a worker that died is retried with `in_doubt` set, because
    the platform may already have shown it (the delivery report says so).
    """

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    push_id: Mapped[int] = mapped_column(ForeignKey("pushes.id", ondelete="CASCADE"), index=True)
    identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    is_private: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    in_doubt: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    # An ordered lane ("relay"): its rows for one chat go out one at a time, in id order.
    lane: Mapped[str | None] = mapped_column(String(16))
    __table_args__ = (
        UniqueConstraint("push_id", "platform", "chat_id"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_lane", "lane", "platform", "chat_id", "status"),
    )


class RelayMessage(Base):
    """A message posted in a group's bound chat and relayed to its other chats: which message
    it was (the platform's own id, opaque here) and whose, never what it said."""

    __tablename__ = "relay_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    group_slug: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(128))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("platform", "chat_id", "message_id"),)


class RelayCopy(Base):
    """One relayed copy of a `RelayMessage` in another chat, by that platform's message id."""

    __tablename__ = "relay_copies"
    id: Mapped[int] = mapped_column(primary_key=True)
    relay_id: Mapped[int] = mapped_column(ForeignKey("relay_messages.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        UniqueConstraint("relay_id", "platform", "chat_id"),
        Index("ix_relay_copies_message", "platform", "chat_id", "message_id"),
    )


class ChatAction(Base):
    """A change to a real chat's membership, done by a worker: invite, remove, answer a request.

    Queued in the same transaction as the membership change, so a crash cannot approve
    someone without inviting them, or record a leave without removing them.
    """

    __tablename__ = "chat_actions"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # invite | remove
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))
    group_slug: Mapped[str] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # When a worker took it: one running longer than the lease belongs to a process that
    # stopped, and any process takes it again (none resets another's work at start-up).
    claimed_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()


class Conversation(Base):
    """A step-by-step flow in progress (news submission, broadcast, join), one per identity."""

    __tablename__ = "conversations"
    identity_id: Mapped[int] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True
    )
    command: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatAlias(Base):
    """A chat's new id after the platform moved it (a Telegram group upgraded to a
    supergroup), so the ids bound in config keep working."""

    __tablename__ = "chat_aliases"
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    old_chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    new_chat_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LinkCode(Base):
    """A one-time code that joins an identity on another platform to this person."""

    __tablename__ = "link_codes"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column()
    # The account that typed the code and was shown whose account it joins; only it may
    # confirm the link.
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"))


class CallbackToken(Base):
    """Server-side state for a button whose action does not fit the platform's payload limit."""

    __tablename__ = "callback_tokens"
    token: Mapped[str] = mapped_column(String(16), primary_key=True)
    action: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class InboundUpdate(Base):
    """An update a platform delivered, kept from receipt until it has been answered.

    Written before the platform is told it arrived (Telegram's next offset, Slack's 200), so a
    crash loses nothing: a row still `pending` is handled at the next start, and one `handled`
    (its command's effects committed with its replies, in one transaction) only has its
    stored replies sent again. `key` is the platform's own id for the update (Telegram's
    update_id, Slack's event_id or a hash of a signed body), so a repeat is stored once.
    Once `done`, the content is dropped and only the key is kept, for a few days, against
    repeats.
    """

    __tablename__ = "inbound_updates"
    __table_args__ = (
        UniqueConstraint("platform", "key"),
        Index("ix_inbound_updates_open", "platform", "status", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(128))
    chat_key: Mapped[str] = mapped_column(String(128))  # updates of one chat keep their order
    sender: Mapped[str | None] = mapped_column(String(64), index=True)  # for erasure
    payload: Mapped[dict[str, Any] | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="pending")  # handled|done|skipped
    replies: Mapped[list[Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    done_at: Mapped[datetime | None] = mapped_column()


class ConsoleCode(Base):
    """A one-time sign-in code for the web console, sent to an admin account's private chat.

    Only hashes are kept: `browser_hash` of the random value in the asking browser's cookie
    (a code works only in the browser that asked for it), `code_hash` of the code itself."""

    __tablename__ = "console_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), index=True
    )
    browser_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column()


class ConsoleSession(Base):
    """A signed-in browser: the hash of its cookie's token, the account it acts as, and the
    token its forms must carry (CSRF)."""

    __tablename__ = "console_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    identity_id: Mapped[int] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


# --- engagement -------------------------------------------------------------------------------


class LinkToken(Base):
    """A link the bridge wrote into a push (a digest, a broadcast), sent as its own redirect
    `/r/<token>` so that following it is counted per push, item and audience: never per person.

    The token is random (96 bits), so the redirects cannot be walked; `url` is the target the
    push held, always http(s), and the only place a token can send anyone."""

    __tablename__ = "link_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    push_id: Mapped[int] = mapped_column(ForeignKey("pushes.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    item: Mapped[str] = mapped_column(String(200), default="")  # what the link is, as shown
    audience: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LinkClick(Base):
    """How often a link was followed on one day (the network's): a count and nothing else, no
    person, address or browser."""

    __tablename__ = "link_clicks"
    token_id: Mapped[int] = mapped_column(
        ForeignKey("link_tokens.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
