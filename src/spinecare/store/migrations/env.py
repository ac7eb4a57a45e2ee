"""Alembic environment. Run only through :func:`spinecare.store.db.migrate`, which passes the
connection in ``config.attributes``; nothing here reads a file or the environment."""

from __future__ import annotations

from alembic import context

from spinecare.store.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
