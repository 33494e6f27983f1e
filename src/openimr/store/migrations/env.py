"""Alembic environment: runs on the engine :func:`openimr.store.db.migrate` passes in.

All pending migrations run in one transaction, which first takes the store's migration lock: on
SQLite the ``BEGIN IMMEDIATE`` of :func:`openimr.store.db.migration_engine`, on PostgreSQL a
transaction-level advisory lock for the schema. Alembic reads the current revision only after
that, so concurrent upgraders take turns and the later ones find nothing left to do; a process
killed mid-upgrade leaves the schema as it was.

Run from Alembic's own command line, it uses ``sqlalchemy.url`` from the configuration.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from openimr.store.db import migration_engine

# Autogenerate compares Base.metadata, every table of the store, with the database.
from openimr.store.schema import Base, include_object

MIGRATION_LOCK = "openimr.store.migrate:"

config = context.config
engine = config.attributes.get("engine") or migration_engine(config.get_main_option("sqlalchemy.url") or "")


def _take_migration_lock(connection: Connection) -> None:
    """On PostgreSQL, wait for the schema's migration lock, held until the transaction ends."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:lock || coalesce(current_schema(), '')))"),
            {"lock": MIGRATION_LOCK},
        )


with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        _take_migration_lock(connection)
        context.run_migrations()
