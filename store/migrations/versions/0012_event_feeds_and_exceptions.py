"""events: calendar UIDs, exceptions (EXDATE, RDATE, overrides) and subscribed feeds

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 21:00:00.000000

An imported event keeps its calendar UID, so a feed fetched again updates it in place. A
series lists the dates it does not meet on (`exdates`: cancelled, or moved) and its extra ones
(`rdates`); a moved or changed date is a row of its own with the series' uid and the date it
replaces (`recurrence_on`). `event_feeds` holds the subscribed feeds and their HTTP
validators. Existing events get no uid and no exceptions.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ccin_bridge.store.models

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    when = ccin_bridge.store.models.UTCDateTime(timezone=True)
    op.create_table(
        "event_feeds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("url", sa.String(1000), nullable=False, unique=True),
        sa.Column("every_minutes", sa.Integer(), nullable=True),
        sa.Column("etag", sa.String(300), nullable=True),
        sa.Column("last_modified", sa.String(100), nullable=True),
        sa.Column("checked_at", when, nullable=True),
        sa.Column("changed_at", when, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", when, nullable=False),
    )
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("uid", sa.String(255), nullable=True))
        batch.add_column(sa.Column("recurrence_on", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column("exdates", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch.add_column(
            sa.Column("rdates", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch.add_column(sa.Column("feed_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_events_feed_id_event_feeds", "event_feeds", ["feed_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_events_uid", ["uid"])
        batch.create_index("ix_events_feed_id", ["feed_id"])


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_feed_id")
        batch.drop_index("ix_events_uid")
        batch.drop_constraint("fk_events_feed_id_event_feeds", type_="foreignkey")
        for column in ("feed_id", "rdates", "exdates", "recurrence_on", "uid"):
            batch.drop_column(column)
    op.drop_table("event_feeds")
