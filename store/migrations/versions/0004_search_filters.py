"""search filters: one index for kind and year

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 08:20:00.000000

A search with filters but no words (`kind:case-study year:2020..2023`) pages newest first,
then by title, through (kind, year_from, title): the year order comes from the index, a
year's titles are sorted from it without reading a row, and the matches are counted from it.
It replaces the index on kind alone, which it covers.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain index statements, not a batch: a batch table rebuild on SQLite would drop the FTS5
# triggers that migration 0002 put on search_docs.


def upgrade() -> None:
    op.create_index("ix_search_docs_kind_year", "search_docs", ["kind", "year_from", "title"])
    op.drop_index("ix_search_docs_kind", table_name="search_docs")


def downgrade() -> None:
    op.create_index("ix_search_docs_kind", "search_docs", ["kind"])
    op.drop_index("ix_search_docs_kind_year", table_name="search_docs")
