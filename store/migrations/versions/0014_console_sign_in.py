"""console_codes and console_sessions: the admins' web console signs in with codes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 21:00:00.000000

An admin asks for a code in the browser; the bot sends it to that account's private chat;
the browser that asked exchanges it for a session. Only hashes of codes and tokens are kept.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ccin_bridge.store.models

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = ccin_bridge.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(["identity_id"], ["identities.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("browser_hash"),
    )
    op.create_index("ix_console_codes_identity_id", "console_codes", ["identity_id"])
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("last_seen_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["identity_id"], ["identities.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_console_sessions_identity_id", "console_sessions", ["identity_id"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_identity_id", table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_index("ix_console_codes_identity_id", table_name="console_codes")
    op.drop_table("console_codes")
