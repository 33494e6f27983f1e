"""The database itself, as the command line manages it: where it is (its URL, password hidden when
shown), its schema revision against the newest, bringing it up to date, and opening it for the
corpus (upgraded only when it is behind, its search index synced). What only reads a store opens an
existing one (:func:`existing`): a SQLite file that is not there is refused, not created."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from openimr.core.errors import OpenIMRError
from openimr.services.settings import db_url
from openimr.store.db import MIGRATIONS, Store, current_revisions, head_revisions, migrate

__all__ = [
    "NoStore",
    "Store",
    "at_head",
    "creatable",
    "existing",
    "open_corpus",
    "open_store",
    "revisions",
    "shown",
    "upgrade",
    "url_of",
]

_REVISION = re.compile(r"^(down_)?revision\b[^=\n]*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)


def url_of(db: str | None) -> str:
    """The database URL: *db*, else $OPENIMR_DB, else ./openimr.db (see :mod:`.settings`)."""
    return db_url(db)


def shown(db: str | None) -> str:
    """The database's URL as it is printed: its password hidden."""
    url = url_of(db)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return url


class NoStore(OpenIMRError, LookupError):
    """A database that is not there for a command that only reads one (which creates none), or a
    folder that is not there for the database a command would create."""

    status, code = 404, "no_store"


def _sqlite_file(url: str) -> Path | None:
    """The file a SQLite *url* names; None for a database server, memory, or a URL that is none
    (opening it says what is wrong with it)."""
    try:
        parsed = make_url(url)
    except SQLAlchemyError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def existing(db: str | None) -> str:
    """The URL of *db*, when it may name a store that exists: NoStore, creating nothing, for a SQLite
    file that is not there (a database server's store is found, or not, when connected to)."""
    url = url_of(db)
    path = _sqlite_file(url)
    if path is not None and not path.is_file():
        raise NoStore(
            f"{path}: no such database, and none was created (name one with --db or $OPENIMR_DB,"
            " or create it: openimr db upgrade)"
        )
    return url


def creatable(db: str | None) -> str:
    """The URL of *db*, when its store exists or may be created: NoStore for a SQLite file in a
    folder that is not there."""
    url = url_of(db)
    path = _sqlite_file(url)
    if path is not None and not path.parent.is_dir():
        raise NoStore(f"{path.parent}: no such folder for the database {path.name}")
    return url


def open_store(db: str | None, create: bool = True) -> Store:
    """The store at *db*, upgraded to the newest schema first; NoStore if it does not exist and
    not *create*, or cannot be created."""
    return Store.open(creatable(db) if create else existing(db))


def upgrade(db: str | None) -> tuple[set[str], set[str]]:
    """Bring the schema at *db* to the newest (creating the store); its revisions (before, after)."""
    with Store(creatable(db)) as store:
        before = current_revisions(store.engine)
        migrate(store.url)
        return before, current_revisions(store.engine)


def revisions(db: str | None) -> tuple[set[str], set[str]]:
    """The schema revisions at *db*, and the newest (NoStore where there is no store)."""
    with Store(existing(db)) as store:
        return current_revisions(store.engine), head_revisions()


def at_head(store: Store) -> bool:
    """Whether the store's schema is the newest, read from ``alembic_version`` and the migration
    files without importing Alembic (a third of a search's time). Anything unusual (a revision not
    written as one quoted string, no version table) says no, and the store is upgraded as usual."""
    files = list((MIGRATIONS / "versions").glob("*.py"))
    revisions, parents = set(), set()
    for path in files:
        for down, revision in _REVISION.findall(path.read_text(encoding="utf-8")):
            (parents if down else revisions).add(revision)
    if len(revisions) != len(files):
        return False
    try:
        with store.engine.connect() as conn:
            current = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except SQLAlchemyError:
        return False
    return bool(current) and current == revisions - parents


def open_corpus(db: str | None, embed: bool = False) -> Store:
    """The store at *db*, upgraded, its corpus index synced (with embeddings when *embed*); NoStore,
    creating nothing, where there is no store."""
    from openimr.services.corpus.index import sync_index

    store = Store(existing(db))
    if not at_head(store):
        store.close()
        store = Store.open(url_of(db))
    sync_index(store.engine, embed=embed)
    return store
