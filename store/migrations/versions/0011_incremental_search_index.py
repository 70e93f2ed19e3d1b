"""incremental search index; PostgreSQL's tsvector in a narrow table of its own

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 17:50:00.000000

Triggers on case_studies, projects and suppliers note each written row in search_pending, in
the writer's own transaction, so `search_index.sync` re-reads only those rows: an import that
commits and dies before indexing leaves its marks behind, and a rolled-back one none.
search_state holds the index format `sync` last wrote and an `in_step` flag that any write to
search_docs clears (sync sets it again when it is done): a start-up check is two tiny reads,
and an index written some other way, or by an older format, is checked whole.

PostgreSQL: the weighted tsvector moves from a generated column of search_docs to
search_fts(id, tsv), kept in step by statement triggers as SQLite's FTS5 table is. In the
wide search_docs rows it was compressed and stored out of line, so checking or ranking a
row meant fetching and decompressing it; here it lies in the row itself, uncompressed, and
walking the matches newest first reads nothing else.

Plain statements on SQLite, never a batch: a batch table rebuild would drop these triggers
(and migration 0002's), so a later migration altering these tables must create them again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCES = ("case_studies", "projects", "suppliers")
_VECTOR = (
    "setweight(to_tsvector('english', {r}text_title), 'A') || "
    "setweight(to_tsvector('english', {r}text_tags), 'B') || "
    "setweight(to_tsvector('english', {r}text_body), 'D')"
)


def _sqlite() -> list[str]:
    statements = []
    for table in SOURCES:
        mark = "INSERT OR IGNORE INTO search_pending (source, ref_id) VALUES ('{t}', {r}.id);"
        for suffix, event, rows in (
            ("ai", "INSERT", ("new",)), ("au", "UPDATE", ("new", "old")), ("ad", "DELETE", ("old",))
        ):  # fmt: skip
            body = " ".join(mark.format(t=table, r=r) for r in rows)
            statements.append(
                f"CREATE TRIGGER search_pending_{table}_{suffix} AFTER {event} ON {table} "
                f"BEGIN {body} END"
            )
    for suffix, event in (("ai", "INSERT"), ("au", "UPDATE"), ("ad", "DELETE")):
        statements.append(
            f"CREATE TRIGGER search_docs_written_{suffix} AFTER {event} ON search_docs "
            "WHEN (SELECT value FROM search_state WHERE name = 'in_step') <> 0 "
            "BEGIN UPDATE search_state SET value = 0 WHERE name = 'in_step'; END"
        )
    return statements


# A mark already there is updated, not skipped: that locks it, so a `sync` deleting it at that
# moment waits for this writer's commit and then finds the row's new state, or the new mark.
_PG_FUNCTIONS = [
    """CREATE FUNCTION search_mark_pending() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO search_pending (source, ref_id)
            SELECT TG_ARGV[0], id FROM old_rows
            ON CONFLICT (source, ref_id) DO UPDATE SET ref_id = excluded.ref_id;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO search_pending (source, ref_id)
            SELECT TG_ARGV[0], id FROM new_rows
            ON CONFLICT (source, ref_id) DO UPDATE SET ref_id = excluded.ref_id;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION search_docs_written() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE search_state SET value = 0 WHERE name = 'in_step' AND value <> 0;
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION search_fts_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM search_fts f USING old_rows o WHERE f.id = o.id;
        ELSIF TG_OP = 'INSERT' THEN
            INSERT INTO search_fts (id, tsv) SELECT n.id, {_VECTOR.format(r="n.")} FROM new_rows n;
        ELSE
            INSERT INTO search_fts (id, tsv)
            SELECT n.id, {_VECTOR.format(r="n.")} FROM new_rows n LEFT JOIN old_rows o USING (id)
            WHERE (n.text_title, n.text_tags, n.text_body)
                IS DISTINCT FROM (o.text_title, o.text_tags, o.text_body)
            ON CONFLICT (id) DO UPDATE SET tsv = excluded.tsv;
            DELETE FROM search_fts f USING old_rows o
            WHERE f.id = o.id AND NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.id = o.id);
        END IF;
        RETURN NULL;
    END $$""",
]


def _postgres() -> list[str]:
    statements = list(_PG_FUNCTIONS)
    transitions = {
        "INSERT": "NEW TABLE AS new_rows",
        "UPDATE": "NEW TABLE AS new_rows OLD TABLE AS old_rows",
        "DELETE": "OLD TABLE AS old_rows",
    }
    for table in SOURCES:
        for event, referencing in transitions.items():
            statements.append(
                f"CREATE TRIGGER search_pending_{table}_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {referencing} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION search_mark_pending('{table}')"
            )
    statements += [
        "CREATE TABLE search_fts (id integer PRIMARY KEY, tsv tsvector NOT NULL)",
        # Never compressed: decompressing a tsvector costs more than reading it.
        "ALTER TABLE search_fts ALTER COLUMN tsv SET STORAGE EXTERNAL",
        f"INSERT INTO search_fts (id, tsv) SELECT id, {_VECTOR.format(r='')} FROM search_docs "
        "ORDER BY id",
        "CREATE INDEX ix_search_fts_tsv ON search_fts USING GIN (tsv)",
        "DROP INDEX IF EXISTS ix_search_docs_tsv",
        "ALTER TABLE search_docs DROP COLUMN IF EXISTS tsv",
    ]
    for event, referencing in transitions.items():
        statements.append(
            f"CREATE TRIGGER search_docs_fts_{event.lower()} AFTER {event} ON search_docs "
            f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION search_fts_write()"
        )
    statements.append(
        "CREATE TRIGGER search_docs_written AFTER INSERT OR UPDATE OR DELETE ON search_docs "
        "FOR EACH STATEMENT EXECUTE FUNCTION search_docs_written()"
    )
    return statements


def upgrade() -> None:
    op.create_table(
        "search_pending",
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source", "ref_id", name=op.f("pk_search_pending")),
    )
    state = op.create_table(
        "search_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_search_state")),
    )
    # Format 0 is no format `sync` writes: the first start after this upgrade checks it all.
    op.bulk_insert(state, [{"name": "format", "value": 0}, {"name": "in_step", "value": 0}])
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _sqlite() if sqlite else _postgres():
        op.execute(statement)
    # With the id, the index alone gives PostgreSQL a page of filters without words.
    op.drop_index("ix_search_docs_kind_year", table_name="search_docs")
    op.create_index("ix_search_docs_kind_year", "search_docs", ["kind", "year_from", "title", "id"])


def downgrade() -> None:
    op.drop_index("ix_search_docs_kind_year", table_name="search_docs")
    op.create_index("ix_search_docs_kind_year", "search_docs", ["kind", "year_from", "title"])
    if op.get_bind().dialect.name == "sqlite":
        for table in (*SOURCES, "search_docs"):
            for suffix in ("ai", "au", "ad"):
                name = (
                    "search_docs_written" if table == "search_docs" else f"search_pending_{table}"
                )
                op.execute(f"DROP TRIGGER IF EXISTS {name}_{suffix}")
    else:
        for table in SOURCES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS search_pending_{table}_{event} ON {table}")
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS search_docs_fts_{event} ON search_docs")
        op.execute("DROP TRIGGER IF EXISTS search_docs_written ON search_docs")
        for function in ("search_mark_pending", "search_docs_written", "search_fts_write"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
        # As migration 0002 made it.
        op.execute(
            "ALTER TABLE search_docs ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
            f"{_VECTOR.format(r='')}) STORED"
        )
        op.execute("CREATE INDEX ix_search_docs_tsv ON search_docs USING GIN (tsv)")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_state")
    op.drop_table("search_pending")
