"""Alembic environment: runs on the engine :func:`openimr.store.db.migrate` passes in.

Run from the command line, it uses ``sqlalchemy.url`` from the configuration, else the
default database (``$OPENIMR_DB`` or ``./openimr.db``).
"""

from __future__ import annotations

from alembic import context

# Autogenerate compares Base.metadata with the database: import each module that defines tables.
import openimr.store.tables  # noqa: F401
from openimr.store.base import Base
from openimr.store.db import make_engine

config = context.config
engine = config.attributes.get("engine") or make_engine(config.get_main_option("sqlalchemy.url"))

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
