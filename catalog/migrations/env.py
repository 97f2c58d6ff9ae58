"""Alembic environment: runs against the connection that catalog.db.upgrade_schema passes in."""

from alembic import context
from sqlmodel import SQLModel

import catalog.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through catalog.db.upgrade_schema, which passes a connection"
    )

context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
