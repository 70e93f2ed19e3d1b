"""identities.address: how a platform reaches an account when the bridge writes first

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 16:10:00.000000

Some platforms cannot be written to by an account's id alone: Teams (and WhatsApp's business
API) need the conversation reference the platform gave when the person first wrote.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("address", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("address")
