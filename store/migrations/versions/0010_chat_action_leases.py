"""chat_actions.claimed_at: actions are leased, never reset by a starting process

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 15:30:00.000000

Each process used to put every running chat action back to pending at start-up, so a second
process starting beside a running one made it do invites twice. A running action is now taken
again only once its lease has run out.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ccin_bridge.store.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_actions") as batch:
        batch.add_column(sa.Column(
                "claimed_at", ccin_bridge.store.models.UTCDateTime(timezone=True), nullable=True
            ))


def downgrade() -> None:
    with op.batch_alter_table("chat_actions") as batch:
        batch.drop_column("claimed_at")
