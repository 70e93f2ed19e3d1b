"""Relaying a group's conversation between its bound chats: the relayed messages, their
copies, and an ordered lane for outbox deliveries

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 01:00:00.000000

`relay_messages` is a message posted in a bound chat (by its platform's id) and whose it was;
`relay_copies` each copy of it in another chat, so replies, edits and deletions find it.
`deliveries.lane` names an ordered lane: a chat's rows in one go out one at a time, in order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ccin_bridge.store.models

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = ccin_bridge.store.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("lane", sa.String(length=16), nullable=True))
        batch.create_index(
            "ix_deliveries_lane", ["lane", "platform", "chat_id", "status"], unique=False
        )
    op.create_table(
        "relay_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_slug", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "chat_id", "message_id"),
    )
    op.create_index(
        op.f("ix_relay_messages_person_id"), "relay_messages", ["person_id"], unique=False
    )
    op.create_table(
        "relay_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("relay_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["relay_id"], ["relay_messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("relay_id", "platform", "chat_id"),
    )
    op.create_index(
        "ix_relay_copies_message", "relay_copies", ["platform", "chat_id", "message_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_relay_copies_message", table_name="relay_copies")
    op.drop_table("relay_copies")
    op.drop_index(op.f("ix_relay_messages_person_id"), table_name="relay_messages")
    op.drop_table("relay_messages")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_lane")
        batch.drop_column("lane")
