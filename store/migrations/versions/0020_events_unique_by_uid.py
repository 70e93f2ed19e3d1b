"""events: unique by calendar UID (and the date an override replaces); by title and day only
for events without a UID

Revision ID: 0020
Revises: 0015
Create Date: 2026-12-02 01:00:00.000000

A series and an override of its first date share a title and a day, as may two calendars'
events: the unique title-and-day constraint refused the second. Existing rows were unique by
title and day, so they are unique under the narrower indexes too; UIDs were kept unique (with
the date an override replaces) by the importer, which found rows by them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("uq_events_title_day", ["title", "starts_on"], "uid IS NULL"),
    ("uq_events_uid", ["uid"], "uid IS NOT NULL AND recurrence_on IS NULL"),
    ("uq_events_uid_date", ["uid", "recurrence_on"], "recurrence_on IS NOT NULL"),
)


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint("uq_events_title", type_="unique")
    for name, columns, where in INDEXES:
        clause = sa.text(where)
        op.create_index(
            name, "events", columns, unique=True, sqlite_where=clause, postgresql_where=clause
        )


def downgrade() -> None:
    for name, _, _ in INDEXES:
        op.drop_index(name, table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.create_unique_constraint("uq_events_title", ["title", "starts_on"])
