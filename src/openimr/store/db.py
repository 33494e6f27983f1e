"""Engines, sessions and schema upgrades for the store.

The database is a URL: ``--db URL`` on the command line, else the ``OPENIMR_DB`` environment
variable, else the SQLite file ``openimr.db`` in the working directory. SQLite connections run in
WAL mode with foreign keys on; PostgreSQL URLs use psycopg 3 (``postgresql+psycopg://...``).
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

DB_ENV = "OPENIMR_DB"
DEFAULT_DB_FILE = "openimr.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def default_db_url() -> str:
    """``$OPENIMR_DB`` (a URL or a file path), else the SQLite file ``./openimr.db``."""
    value = os.environ.get(DB_ENV) or DEFAULT_DB_FILE
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).resolve()}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    """An engine for *url* (default: :func:`default_db_url`), with the SQLite pragmas set."""
    url = url or default_db_url()
    engine = create_engine(url)
    if make_url(url).get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to *engine* whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration built in code, its scripts inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(url: str | None = None) -> None:
    """Upgrade the database at *url* (default: :func:`default_db_url`) to the newest schema."""
    engine = make_engine(url)
    try:
        command.upgrade(alembic_config(engine), "head")
    finally:
        engine.dispose()
