"""suppliers: when each was added, so the digest can name DPS additions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 01:00:00.000000

Suppliers already stored get no date (NULL): when they joined the list is not known, and the
digest must not announce them as new.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ccin_bridge.store.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "suppliers",
        sa.Column("created_at", ccin_bridge.store.models.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("suppliers") as batch:
        batch.drop_column("created_at")
