"""Engines, sessions and schema upgrades for the store.

The database is a URL, which the caller chooses (:class:`openimr.services.settings.Settings`:
``--db URL``, ``$OPENIMR_DB``, else ``./openimr.db``). SQLite connections run in WAL mode with
foreign keys on; PostgreSQL URLs use psycopg 3 (``postgresql+psycopg://...``).

:func:`migrate` runs all pending migrations in one transaction that holds the store's migration
lock, so a process killed mid-upgrade leaves the store as it was and concurrent upgrades take turns.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.orm import Session, sessionmaker

# Connections a store's pool keeps open, and how many more it may open at a peak: together as many
# as the web server's worker threads (anyio's 40), so that a request waits for a thread, never
# for a connection (the defaults, 5 and 10, ran out under 50 clients on a fresh server).
POOL_SIZE = 10
POOL_OVERFLOW = 30
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_manual_transactions(dbapi_connection, _record) -> None:
    # pysqlite begins a transaction only before INSERT/UPDATE/DELETE, so DDL would autocommit:
    # leave BEGIN to the "begin" event (SQLAlchemy's recipe for transactional DDL on pysqlite).
    dbapi_connection.isolation_level = None


def _sqlite_begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for *url*, with the SQLite pragmas set.

    Its pool holds :data:`POOL_SIZE` connections (up to :data:`POOL_OVERFLOW` more at a peak) and
    tests each one as it hands it out (``pool_pre_ping``), so a connection the server closed (a
    restart, an idle timeout) is replaced instead of failing the request that drew it.
    """
    parsed = make_url(url)
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    sizing = {} if in_memory else {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
    engine = create_engine(url, pool_pre_ping=True, **sizing)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def warm(engine: Engine, count: int = POOL_SIZE) -> None:
    """Open *count* connections into *engine*'s pool now, so that the first burst of requests does
    not wait for them to be made one by one."""
    connections = []
    try:
        for _ in range(count):
            connections.append(engine.connect())
    finally:
        for connection in connections:
            connection.close()


def migration_engine(url: str) -> Engine:
    """An engine for schema upgrades. On SQLite each transaction is real, DDL included, and starts
    with ``BEGIN IMMEDIATE``: it holds the write lock throughout, and other upgrades wait for it."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_manual_transactions)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to *engine* whose objects stay readable after commit."""
    from sqlalchemy.orm import sessionmaker  # imported here: commands that only query skip the ORM (~75 ms)

    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration built in code, its scripts inside the package."""
    from alembic.config import Config  # alembic loads only when the schema is read or changed

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revisions() -> set[str]:
    """The newest revisions of the package's migrations."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory(str(MIGRATIONS)).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    """The revisions the store's ``alembic_version`` names (empty for a store never upgraded)."""
    with engine.connect() as connection:
        from alembic.runtime.migration import MigrationContext

        return set(MigrationContext.configure(connection).get_current_heads())


def _at_head(url: str) -> bool:
    """Whether the store's ``alembic_version`` already names exactly the newest revisions."""
    engine = make_engine(url)
    try:
        return current_revisions(engine) == head_revisions()
    finally:
        engine.dispose()


def migrate(url: str) -> None:
    """Upgrade the database at *url* to the newest schema.

    A store already there is only read. Otherwise all pending migrations run in one transaction
    under the migration lock (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), which
    re-reads the revision once it holds the lock, so a concurrent upgrader that got there first
    leaves nothing to do.
    """
    if _at_head(url):
        return
    engine = migration_engine(url)
    try:
        from alembic import command

        command.upgrade(alembic_config(engine), "head")
    finally:
        engine.dispose()


class Store:
    """One database, opened once per process: its URL, engine and sessions.

    Opening never changes the schema: the adapters upgrade it at start-up (:meth:`open` with
    ``upgrade=True``, or ``openimr db upgrade``), never a service's constructor.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(self.url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        """The store's session factory, made on first use."""
        return session_factory(self.engine)

    @classmethod
    def open(cls, url: str, upgrade: bool = True) -> Store:
        """The store at *url*, upgraded to the newest schema first unless *upgrade* is false."""
        if upgrade:
            migrate(url)
        return cls(url)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on an error."""
        with self.sessions.begin() as session:
            yield session

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
