"""inbound_updates: platform updates stored before they are acknowledged

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 11:00:00.000000

Telegram updates and Slack events are written here before the platform is told they
arrived, and handled from here, so a crash loses none and handles none twice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ccin_bridge.store.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("chat_key", sa.String(length=128), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("replies", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", ccin_bridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", ccin_bridge.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_updates")),
        sa.UniqueConstraint("platform", "key", name=op.f("uq_inbound_updates_platform")),
    )
    with op.batch_alter_table("inbound_updates") as batch:
        batch.create_index(
            "ix_inbound_updates_open", ["platform", "status", "id"], unique=False
        )
        batch.create_index(
            batch.f("ix_inbound_updates_received_at"), ["received_at"], unique=False
        )
        batch.create_index(batch.f("ix_inbound_updates_sender"), ["sender"], unique=False)


def downgrade() -> None:
    op.drop_table("inbound_updates")
