"""The store's one schema module and its migrations agree: autogenerate proposes no change."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from openimr.store.db import make_engine, migrate
from openimr.store.schema import Base, include_object
from store_pg import pg_schema_url


def _changes(url: str) -> list:
    migrate(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": include_object})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_autogenerate_on_a_migrated_sqlite_store_proposes_nothing(tmp_path: Path) -> None:
    assert _changes(f"sqlite:///{tmp_path / 'store.db'}") == []


@pytest.mark.postgres
def test_autogenerate_on_a_migrated_postgres_store_proposes_nothing() -> None:
    with pg_schema_url() as url:
        assert _changes(url) == []


def test_every_table_is_in_the_one_metadata(tmp_path: Path) -> None:
    """A table created by the migrations but missing from the schema module shows up here."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = {
                n
                for (n,) in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")
                if not n.startswith(("sqlite_", "corpus_doc_fts")) and n != "alembic_version"
            }
    finally:
        engine.dispose()
    assert names == set(Base.metadata.tables)
