"""Storing parsed letters: one transaction per letter, idempotent by the letter's key.

A letter already in the store (same case number, else the same text: whatever its encoding, BOM,
line endings or spacing) is left as it is, so a batch that was interrupted can simply be run again:
every letter ends up stored exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, Engine, Insert, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError

from openimr.core.letters.errors import LetterError
from openimr.core.letters.extract import read_text, scan_paths, text_hash
from openimr.core.letters.parse import Parsed, read_or_error, read_paths
from openimr.core.models import Letter
from openimr.store.db import Store
from openimr.store.schema import IssueRow, LetterRow, LicenseStateRow, SpecialtyRow, letter_key

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
    """What a batch did: keys stored, keys already present, ``path: problem`` errors and warnings.

    A warning is a letter stored that may be incomplete; ``skipped`` are folder entries not read.
    """

    stored: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def file_hash(path: Path) -> str:
    """The source hash a letter file is stored with: the SHA-256 of its text as words."""
    return text_hash(read_text(path))


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


def _store(path: Path, result: Parsed | LetterError, conn: Connection) -> tuple[Outcome, str]:
    """Store a parsed letter in one transaction: the outcome, and the key or ``path: problem``.

    A letter the database refuses (a value out of its range) is rolled back whole and reported.
    """
    if isinstance(result, LetterError):
        return "error", f"{path}: {result.problem}"
    try:
        with conn.begin():
            stored = store_letter(conn, result.letter, result.source_hash)
    except (DataError, IntegrityError) as exc:
        why = " ".join(str(exc.orig).split())
        return "error", f"{path}: the database refused the letter ({type(exc.orig).__name__}: {why})"
    return ("stored" if stored else "unchanged"), letter_key(result.letter, result.source_hash)


@cache
def _worker_store(db_url: str) -> Store:
    """One store per worker process and database, opened as it is: the driver upgraded it
    (workers end with their cluster)."""
    return Store(db_url)


def ingest_file(path: str, db_url: str) -> tuple[Outcome, str]:
    """Parse and store one letter file on a worker (Dask): what :func:`ingest_paths` does per file."""
    with _worker_store(db_url).engine.connect() as conn:
        return _store(Path(path), read_or_error(Path(path)), conn)


def ingest_paths(
    paths: Iterable[Path], engine: Engine, jobs: int = 1, progress: Progress | None = None
) -> IngestReport:
    """Parse the letters at *paths* (folders expanded) and store each one through *engine*.

    The store must be at the newest schema (its opener upgrades it). With *jobs* > 1, worker processes parse
    and this process stores, one transaction per letter (a single writer: on SQLite, concurrent
    writers measured slower, waiting on the write lock). A file that cannot be parsed is reported
    in ``errors`` and the batch goes on; a letter stored with a warning is in ``warnings`` too.
    *progress*, when given, is called after each file with its path, outcome and message: the
    ``path: problem`` error, or the ``path: warning`` of a stored letter, else ``None``.
    """
    inputs = scan_paths(list(paths))
    report = IngestReport(
        errors=[f"{p}: {why}" for p, why in inputs.errors],
        skipped=[f"{p}: {why}" for p, why in inputs.skipped],
    )
    with engine.connect() as conn:
        for path, result in read_paths(inputs.files, jobs):
            outcome, detail = _store(path, result, conn)
            warning = None
            if outcome == "error":
                report.errors.append(detail)
            else:
                (report.stored if outcome == "stored" else report.unchanged).append(detail)
                if isinstance(result, Parsed) and result.warnings:
                    warning = f"{path}: {'; '.join(result.warnings)}"
                    report.warnings.append(warning)
            if progress:
                progress(path, outcome, detail if outcome == "error" else warning)
    return report
