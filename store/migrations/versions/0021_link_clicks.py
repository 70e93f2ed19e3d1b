"""link_tokens and link_clicks: the links in pushes behind /r/<token>, and clicks per day;
an index on audit_log(action, at) for the Engagement charts

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 01:00:00.000000

A click is a count per link and day: no person, address or browser is stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ccin_bridge.store.models

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = ccin_bridge.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "link_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("push_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("item", sa.String(length=200), nullable=False),
        sa.Column("audience", sa.String(length=64), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["push_id"],
            ["pushes.id"],
            name=op.f("fk_link_tokens_push_id_pushes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_tokens")),
        sa.UniqueConstraint("token", name=op.f("uq_link_tokens_token")),
    )
    op.create_index(op.f("ix_link_tokens_push_id"), "link_tokens", ["push_id"])
    op.create_table(
        "link_clicks",
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["link_tokens.id"],
            name=op.f("fk_link_clicks_token_id_link_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", "day", name=op.f("pk_link_clicks")),
    )
    op.create_index("ix_audit_log_action_at", "audit_log", ["action", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_action_at", table_name="audit_log")
    op.drop_table("link_clicks")
    op.drop_index(op.f("ix_link_tokens_push_id"), table_name="link_tokens")
    op.drop_table("link_tokens")
