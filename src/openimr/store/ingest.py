"""Storing parsed letters: one transaction per letter, idempotent by the letter's key.

A letter already in the store (same case number, else same source content) is left as it is, so a
batch that was interrupted can simply be run again: every letter ends up stored exactly once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, Engine, Insert, insert
from sqlalchemy.dialects import postgresql, sqlite

from openimr.letters.errors import LetterError
from openimr.letters.parse import parse_or_error, parse_paths
from openimr.models import Letter
from openimr.store.db import default_db_url, make_engine, migrate
from openimr.store.tables import IssueRow, LetterRow, LicenseStateRow, SpecialtyRow, letter_key

# Letter fields stored in columns of the same name (the reviewer and claimant are split up).
_LETTER_FIELDS = {
    "case_number",
    "date_assigned",
    "date_of_injury",
    "decision_date",
    "ur_denial_date",
    "application_received",
    "priority",
    "clinical_summary",
}

Outcome = Literal["stored", "unchanged", "error"]
Progress = Callable[[Path, Outcome, str | None], None]


@dataclass
class IngestReport:
    """What a batch did: keys stored, keys already present, and ``path: problem`` errors."""

    stored: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def file_hash(path: Path) -> str:
    """The SHA-256 (hex) of a file's bytes."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@cache
def _insert_letter(dialect: str) -> Insert:
    """INSERT a letter row unless its key is stored, RETURNING its new id (SQLite, PostgreSQL)."""
    dialects = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
    if dialect not in dialects:
        raise ValueError(f"unsupported database {dialect!r}: use SQLite or PostgreSQL")
    letters = LetterRow.__table__
    return (
        dialects[dialect](letters)
        .on_conflict_do_nothing(index_elements=[letters.c.key])
        .returning(letters.c.id)
    )


_INSERT_ISSUES = insert(IssueRow.__table__)
_INSERT_STATES = insert(LicenseStateRow.__table__)
_INSERT_SPECIALTIES = insert(SpecialtyRow.__table__)


def store_letter(conn: Connection, letter: Letter, source_hash: str) -> bool:
    """Insert *letter* with its issues and credentials unless its key is stored; True when new.

    The caller owns the transaction: commit it to store the letter whole, or roll it back.
    """
    row = {
        "key": letter_key(letter, source_hash),
        "file": letter.file,
        "source_hash": source_hash,
        "claimant_age": letter.claimant.age,
        "claimant_sex": letter.claimant.sex,
        **letter.model_dump(include=_LETTER_FIELDS),
    }
    new_id = conn.execute(_insert_letter(conn.dialect.name), row).scalar()
    if new_id is None:
        return False
    children = (
        (_INSERT_ISSUES, [issue.model_dump() for issue in letter.issues]),
        (_INSERT_STATES, [{"state": state} for state in letter.reviewer.license_states]),
        (_INSERT_SPECIALTIES, [{"specialty": specialty} for specialty in letter.reviewer.specialties]),
    )
    for statement, rows in children:
        if rows:
            numbered = [{"letter_id": new_id, "position": i, **row} for i, row in enumerate(rows)]
            conn.execute(statement, numbered)
    return True


def _store(path: Path, result: Letter | LetterError, conn: Connection) -> tuple[Outcome, str]:
    """Store a parsed letter in one transaction: the outcome, and the key or ``path: problem``."""
    if isinstance(result, LetterError):
        return "error", f"{path}: {result.problem}"
    source_hash = file_hash(path)
    with conn.begin():
        stored = store_letter(conn, result, source_hash)
    return ("stored" if stored else "unchanged"), letter_key(result, source_hash)


@cache
def _worker_engine(db_url: str) -> Engine:
    """One engine per worker process and database (workers end with their cluster)."""
    return make_engine(db_url)


def ingest_file(path: str, db_url: str) -> tuple[Outcome, str]:
    """Parse and store one letter file on a worker (Dask): what :func:`ingest_paths` does per file."""
    with _worker_engine(db_url).connect() as conn:
        return _store(Path(path), parse_or_error(Path(path)), conn)


def ingest_paths(
    paths: Iterable[Path], db_url: str | None = None, jobs: int = 1, progress: Progress | None = None
) -> IngestReport:
    """Parse the letters at *paths* (folders expanded) and store each one in *db_url*.

    The database is upgraded to the newest schema first. With *jobs* > 1, worker processes parse
    and this process stores, one transaction per letter (a single writer: on SQLite, concurrent
    writers measured slower, waiting on the write lock). A file that cannot be parsed is reported
    in ``errors`` and the batch goes on. *progress*, when given, is called after each file with
    its path, outcome and error message (``None`` unless the outcome is "error").
    """
    url = db_url or default_db_url()
    migrate(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            parsed = parse_paths(list(paths), jobs)
            return _collect(((path, _store(path, result, conn)) for path, result in parsed), progress)
    finally:
        engine.dispose()


def _collect(results: Iterable[tuple[Path, tuple[Outcome, str]]], progress: Progress | None) -> IngestReport:
    report = IngestReport()
    for path, (outcome, detail) in results:
        if outcome == "error":
            report.errors.append(detail)
        else:
            (report.stored if outcome == "stored" else report.unchanged).append(detail)
        if progress:
            progress(path, outcome, detail if outcome == "error" else None)
    return report
