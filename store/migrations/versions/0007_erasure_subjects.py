"""pushes and audit entries name the person they are about

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:00:00.000000

Erasure redacts a person's names in the pushes and audit entries about them (their approval
card, a notice to them, "admin approved #12") and leaves everyone else's alone. Rows stored
before this have no subject: erasure treats them as anyone's, and redacts in them only names
that cannot be ordinary words.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("pushes", "audit_log")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        fk, index = op.f(f"fk_{table}_subject_id_people"), op.f(f"ix_{table}_subject_id")
        column = sa.Column("subject_id", sa.Integer(), nullable=True)
        if not sqlite:
            op.add_column(table, column)
            op.create_foreign_key(fk, table, "people", ["subject_id"], ["id"], ondelete="SET NULL")
            op.create_index(index, table, ["subject_id"])
            continue
        # SQLite adds a constraint only by rebuilding the table (an inline REFERENCES would
        # work, but reflection could not tell it from another one).
        with _rebuilt(table) as batch:
            batch.add_column(column)
            batch.create_foreign_key(fk, "people", ["subject_id"], ["id"], ondelete="SET NULL")
            batch.create_index(index, ["subject_id"])


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        fk, index = op.f(f"fk_{table}_subject_id_people"), op.f(f"ix_{table}_subject_id")
        if not sqlite:
            op.drop_index(index, table_name=table)
            op.drop_constraint(fk, table, type_="foreignkey")
            op.drop_column(table, "subject_id")
            continue
        with _rebuilt(table) as batch:
            batch.drop_index(index)
            batch.drop_constraint(fk, type_="foreignkey")
            batch.drop_column("subject_id")


@contextmanager
def _rebuilt(table: str) -> Iterator[BatchOperations]:
    """A batch rebuild on SQLite. It drops the old table, which with foreign keys on deletes
    every row that cascades from it: a rebuild of `pushes` keeps its deliveries aside."""
    keep = table == "pushes"
    if keep:
        op.execute("CREATE TEMPORARY TABLE deliveries_kept AS SELECT * FROM deliveries")
    with op.batch_alter_table(table) as batch:
        yield batch
    if keep:
        op.execute("INSERT INTO deliveries SELECT * FROM deliveries_kept")
        op.execute("DROP TABLE deliveries_kept")
