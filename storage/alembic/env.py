"""Alembic's environment for Newswatch: always run from ``storage.migrate`` on a
connection it opened (and locked), never from the ``alembic`` command line."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from storage import models  # noqa: F401  (registers every table on the metadata)
from storage.migrate import include_object

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata,
                  render_as_batch=connection.dialect.name == "sqlite",
                  include_object=include_object, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
