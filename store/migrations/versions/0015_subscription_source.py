"""subscriptions.source: whether a group's defaults made the row, or the person chose it

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 22:30:00.000000

Leaving a group ends only the subscriptions its defaults made ("group"); one the person chose
with /subscribe (None) stays. Rows from before this are not known to be a group's: they are
left as the person's own, so leaving never ends a choice that might have been theirs.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("source", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("source")
