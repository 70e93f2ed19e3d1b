"""roles per membership; projects' categories and principles; member organisations searchable

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 21:00:00.000000

A person's role was stored once, on the person, so joining a second group as something else
rewrote the first group's listing. Each membership now has its own, copied from the person's
for the memberships already there. Funded projects get the categories and principles the
seeds say they serve. Organisations become a search source: the same marking triggers as
migration 0011's sources, so `search_index.sync` indexes a new or changed member.

Plain statements, never a batch (a batch rebuild of projects would drop migration 0011's
triggers on it).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "organisations"
_EVENTS = {
    "INSERT": ("ai", "NEW TABLE AS new_rows", ("new",)),
    "UPDATE": ("au", "NEW TABLE AS new_rows OLD TABLE AS old_rows", ("new", "old")),
    "DELETE": ("ad", "OLD TABLE AS old_rows", ("old",)),
}


def _triggers(sqlite: bool) -> list[str]:
    statements = []
    for event, (suffix, referencing, rows) in _EVENTS.items():
        if sqlite:
            mark = "INSERT OR IGNORE INTO search_pending (source, ref_id) VALUES ('{t}', {r}.id);"
            body = " ".join(mark.format(t=TABLE, r=r) for r in rows)
            statements.append(
                f"CREATE TRIGGER search_pending_{TABLE}_{suffix} AFTER {event} ON {TABLE} "
                f"BEGIN {body} END"
            )
        else:  # search_mark_pending() is migration 0011's
            statements.append(
                f"CREATE TRIGGER search_pending_{TABLE}_{event.lower()} AFTER {event} ON {TABLE} "
                f"REFERENCING {referencing} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION search_mark_pending('{TABLE}')"
            )
    return statements


def upgrade() -> None:
    op.add_column("memberships", sa.Column("role", sa.String(length=80), nullable=True))
    op.execute(
        "UPDATE memberships SET role = "
        "(SELECT people.role FROM people WHERE people.id = memberships.person_id)"
    )
    for name in ("categories", "principles"):
        op.add_column(
            "projects",
            sa.Column(name, sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
        )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _triggers(sqlite):
        op.execute(statement)
    # Every organisation is new to the index: marked, the next sync indexes them.
    op.execute(f"INSERT INTO search_pending (source, ref_id) SELECT '{TABLE}', id FROM {TABLE}")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for event, (suffix, _, _) in _EVENTS.items():
        if sqlite:
            op.execute(f"DROP TRIGGER IF EXISTS search_pending_{TABLE}_{suffix}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS search_pending_{TABLE}_{event.lower()} ON {TABLE}")
    op.execute(f"DELETE FROM search_pending WHERE source = '{TABLE}'")
    # Kinds the older code does not make; format 0 has its next sync check the whole index.
    op.execute("DELETE FROM search_docs WHERE kind IN ('member', 'resource')")
    op.execute("UPDATE search_state SET value = 0 WHERE name = 'format'")
    for name in ("principles", "categories"):
        op.execute(f"ALTER TABLE projects DROP COLUMN {name}")
    op.execute("ALTER TABLE memberships DROP COLUMN role")
