"""Alembic environment: migrations run on the connection the store hands over."""

from __future__ import annotations

from alembic import context

from ccin_bridge.store.db import managed_by_orm
from ccin_bridge.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `ccin-bridge db upgrade` (store.db.Database)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds to alter
    compare_type=True,
    include_object=managed_by_orm,
)
with context.begin_transaction():
    context.run_migrations()
