"""groups' editable settings and the audiences in the store, seeded from config

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 01:00:00.000000

A group's description, join policy, eligibility (member types and roles) and rules text are
kept with its row; `edited` lists the settings changed in the console or by `/group`, which
config no longer overrides. Existing rows get their values from config at the next start (a
NULL here means "not seeded yet": config's value is used meanwhile). `settings_revision`'s one
row is bumped with every change to them, so a process sees with one read whether to rebuild.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch.add_column(sa.Column("join_policy", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("member_types", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("roles", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("rules_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("edited", sa.JSON(), nullable=True))
    op.create_table(
        "audiences",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(length=32), nullable=False, unique=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("edited", sa.JSON(), nullable=True),
    )
    revision_table = op.create_table(
        "settings_revision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="0"),
    )
    op.bulk_insert(revision_table, [{"id": 1, "revision": 0}])


def downgrade() -> None:
    op.drop_table("settings_revision")
    op.drop_table("audiences")
    with op.batch_alter_table("groups") as batch:
        for column in ("edited", "rules_text", "roles", "member_types", "join_policy"):
            batch.drop_column(column)
        batch.drop_column("description")
