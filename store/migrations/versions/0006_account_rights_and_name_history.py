"""identities carry admin rights; the names each account has had; link codes await consent

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00.000000

Admin rights move from the person to the account they were granted to, so linking another
account never carries them over. Existing admins keep them on the accounts `admin grant`
named (from its audit entries); other accounts of theirs, perhaps linked, do not. `known_names` keeps each display name and
handle an account has had, so erasure can find them all. A link code remembers the account
that was shown whose it is, and only that account may confirm it.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ccin_bridge.store.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "identities",
        sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    _grant_where_granted()
    # A plain DROP COLUMN (SQLite 3.35+): a batch copy of `people` would cascade deletes.
    op.drop_column("people", "is_admin")
    op.create_table(
        "known_names",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("seen_at", ccin_bridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_known_names_identity_id_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_known_names")),
        sa.UniqueConstraint("identity_id", "name", name=op.f("uq_known_names_identity_id")),
    )
    op.execute(
        "INSERT INTO known_names (identity_id, name, seen_at)"
        " SELECT id, display_name, created_at FROM identities WHERE display_name <> ''"
    )
    op.execute(
        "INSERT INTO known_names (identity_id, name, seen_at)"
        " SELECT id, username, created_at FROM identities"
        " WHERE username IS NOT NULL AND username <> '' AND username <> display_name"
    )
    with op.batch_alter_table("link_codes") as batch:
        batch.add_column(sa.Column("claimed_by", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_link_codes_claimed_by_identities"),
            "identities",
            ["claimed_by"],
            ["id"],
            ondelete="CASCADE",
        )


def _grant_where_granted() -> None:
    """Rights go to the accounts `admin grant` named (its audit entries, net of revokes), not
    to every account of an admin person: an old link may have carried them to another."""
    bind = op.get_bind()
    entries = bind.execute(
        sa.text(
            "SELECT action, detail FROM audit_log"
            " WHERE action IN ('admin.grant', 'admin.revoke') ORDER BY at, id"
        )
    ).all()
    granted: set[str] = set()
    for action, detail in entries:
        who = (detail if isinstance(detail, dict) else json.loads(detail or "{}")).get("who")
        if isinstance(who, str):
            (granted.add if action == "admin.grant" else granted.discard)(who.strip())
    for key in sorted(granted):
        platform, _, external_id = key.partition(":")
        bind.execute(
            sa.text(
                "UPDATE identities SET is_admin = TRUE"
                " WHERE platform = :platform AND external_id = :external_id"
                " AND person_id IN (SELECT id FROM people WHERE is_admin)"
            ),
            {"platform": platform, "external_id": external_id.strip()},
        )


def downgrade() -> None:
    with op.batch_alter_table("link_codes") as batch:
        batch.drop_constraint("fk_link_codes_claimed_by_identities", type_="foreignkey")
        batch.drop_column("claimed_by")
    op.drop_table("known_names")
    op.add_column(
        "people", sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.execute(
        "UPDATE people SET is_admin = TRUE"
        " WHERE id IN (SELECT person_id FROM identities WHERE is_admin)"
    )
    op.drop_column("identities", "is_admin")
