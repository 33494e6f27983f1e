"""Storing parsed letters, each one whole or not at all, idempotent by the letter's key.

A letter already in the store (same case number, else the same text: whatever its encoding, BOM,
line endings or spacing) is left as it is, so a batch that was interrupted can simply be run again:
every letter ends up stored exactly once. A batch commits its letters in groups (a commit per
letter cost about a third of a letter's whole parse on SQLite); a letter the database refuses is
rolled back alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, Dialect, Engine, Insert, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError

from openimr.core.letters.errors import LetterError
from openimr.core.letters.extract import read_text, scan_paths, text_hash
from openimr.core.letters.parse import Parsed, read_or_error, read_paths
from openimr.core.models import Issue, Letter
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
Source = Path | str  # the file a letter came from, as messages name it (an upload: its name)
# A group is committed once it holds this many letters or its first letter waited this long.
GROUP_LETTERS = 32
GROUP_SECONDS = 0.25
Progress = Callable[[Source, Outcome, str | None], None]


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


@dataclass(frozen=True, slots=True)
class _DriverInsert:
    """An INSERT compiled once for a dialect: the driver's SQL and how a row becomes its parameters.

    Executed with ``exec_driver_sql``, which skips the per-statement compiled-cache lookup and
    parameter handling of ``execute`` (half of a letter's storing time); each value goes through
    the bind processor that ``execute`` would apply (SQLite's ISO dates), so the rows are the same.
    """

    sql: str
    names: tuple[str, ...]  # the parameters, in the SQL's order
    processors: tuple[Callable[[object], object] | None, ...]
    positional: bool

    def params(self, row: dict[str, object]) -> tuple[object, ...] | dict[str, object]:
        values = [
            value if process is None else process(value)
            for value, process in zip((row[n] for n in self.names), self.processors, strict=True)
        ]
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))


def _compile(statement: Insert, dialect: Dialect, columns: list[str]) -> _DriverInsert:
    compiled = statement.compile(dialect=dialect, column_keys=columns)
    names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
    processors = tuple(
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    return _DriverInsert(compiled.string, names, processors, compiled.positional)


_LETTER_COLUMNS = [
    "key", "file", "source_hash", "claimant_age", "claimant_sex", *sorted(_LETTER_FIELDS)
]  # fmt: skip
_ISSUE_COLUMNS = ["letter_id", "position", *Issue.model_fields]


_Inserts = tuple[_DriverInsert, _DriverInsert, _DriverInsert, _DriverInsert]
_COMPILED: dict[tuple[object, ...], _Inserts] = {}


def _inserts(dialect: Dialect) -> _Inserts:
    """The letter INSERT (unless its key is stored, RETURNING its new id) and its children's, for
    *dialect* (SQLite, PostgreSQL), compiled once per kind of dialect rather than per engine."""
    kind = (type(dialect), dialect.paramstyle, dialect.server_version_info)
    if kind not in _COMPILED:
        _COMPILED[kind] = _compile_inserts(dialect)
    return _COMPILED[kind]


def _compile_inserts(dialect: Dialect) -> _Inserts:
    dialects = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
    if dialect.name not in dialects:
        raise ValueError(f"unsupported database {dialect.name!r}: use SQLite or PostgreSQL")
    letters = LetterRow.__table__
    letter = (
        dialects[dialect.name](letters)
        .on_conflict_do_nothing(index_elements=[letters.c.key])
        .returning(letters.c.id)
    )
    return (
        _compile(letter, dialect, _LETTER_COLUMNS),
        _compile(insert(IssueRow.__table__), dialect, _ISSUE_COLUMNS),
        _compile(insert(LicenseStateRow.__table__), dialect, ["letter_id", "position", "state"]),
        _compile(insert(SpecialtyRow.__table__), dialect, ["letter_id", "position", "specialty"]),
    )


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
    insert_letter, *insert_children = _inserts(conn.dialect)
    new_id = conn.exec_driver_sql(insert_letter.sql, insert_letter.params(row)).scalar()
    if new_id is None:
        return False
    children = (
        [issue.model_dump() for issue in letter.issues],
        [{"state": state} for state in letter.reviewer.license_states],
        [{"specialty": specialty} for specialty in letter.reviewer.specialties],
    )
    for statement, rows in zip(insert_children, children, strict=True):
        if rows:
            numbered = [
                statement.params({"letter_id": new_id, "position": i, **r}) for i, r in enumerate(rows)
            ]
            conn.exec_driver_sql(statement.sql, numbered)
    return True


def _refused(path: Source, exc: DataError | IntegrityError) -> str:
    why = " ".join(str(exc.orig).split())
    return f"{path}: the database refused the letter ({type(exc.orig).__name__}: {why})"


def _store(path: Source, result: Parsed | LetterError, conn: Connection) -> tuple[Outcome, str]:
    """Store a parsed letter in one transaction: the outcome, and the key or ``path: problem``.

    A letter the database refuses (a value out of its range) is rolled back whole and reported.
    """
    if isinstance(result, LetterError):
        return "error", f"{path}: {result.problem}"
    try:
        with conn.begin():
            stored = store_letter(conn, result.letter, result.source_hash)
    except (DataError, IntegrityError) as exc:
        return "error", _refused(path, exc)
    return ("stored" if stored else "unchanged"), letter_key(result.letter, result.source_hash)


def _store_group(
    group: list[tuple[Source, Parsed | LetterError]], conn: Connection
) -> list[tuple[Outcome, str]]:
    """Store a group of letters in one transaction, each letter's outcome as :func:`_store` gives it.

    Should the database refuse one, the group is rolled back and stored again a letter per
    transaction, so that only the refused letter is left out.
    """
    outcomes: list[tuple[Outcome, str]] = []
    try:
        with conn.begin():
            for path, result in group:
                if isinstance(result, LetterError):
                    outcomes.append(("error", f"{path}: {result.problem}"))
                    continue
                new = store_letter(conn, result.letter, result.source_hash)
                outcomes.append(
                    ("stored" if new else "unchanged", letter_key(result.letter, result.source_hash))
                )
    except (DataError, IntegrityError):
        return [_store(path, result, conn) for path, result in group]
    return outcomes


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

    The store must be at the newest schema (its opener upgrades it). With *jobs* > 1, worker
    processes parse and this process stores (a single writer: on SQLite, concurrent writers
    measured slower, waiting on the write lock). Letters are committed in groups of
    :data:`GROUP_LETTERS`, or fewer once the group's first letter waited :data:`GROUP_SECONDS`.
    A file that cannot be parsed is reported in ``errors`` and the batch goes on; a letter stored
    with a warning is in ``warnings`` too. *progress*, when given, is called for each file once
    its group is committed, with its path, outcome and message: the ``path: problem`` error, or
    the ``path: warning`` of a stored letter, else ``None``.
    """
    inputs = scan_paths(list(paths))
    report = IngestReport(
        errors=[f"{p}: {why}" for p, why in inputs.errors],
        skipped=[f"{p}: {why}" for p, why in inputs.skipped],
    )
    return store_results(read_paths(inputs.files, jobs), engine, progress, report)


def store_results(
    results: Iterable[tuple[Source, Parsed | LetterError]],
    engine: Engine,
    progress: Progress | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Store parsed letters (each with the file it came from, as its messages name it) through
    *engine*, in groups, as :func:`ingest_paths` describes; the outcomes are added to *report*.

    A database that refuses every write (a full disk, a lost connection) raises its
    ``OperationalError`` at once: the groups committed before it stay stored, and *progress* has
    been told of each of their letters; running the batch again stores the rest.
    """
    report = report or IngestReport()
    with engine.connect() as conn:
        group: list[tuple[Source, Parsed | LetterError]] = []
        started = 0.0
        for source, result in results:
            if not group:
                started = time.monotonic()
            group.append((source, result))
            if len(group) >= GROUP_LETTERS or time.monotonic() - started >= GROUP_SECONDS:
                _report(group, _store_group(group, conn), report, progress)
                group = []
        if group:
            _report(group, _store_group(group, conn), report, progress)
    return report


def _report(
    group: list[tuple[Source, Parsed | LetterError]],
    outcomes: list[tuple[Outcome, str]],
    report: IngestReport,
    progress: Progress | None,
) -> None:
    """Add a committed group's outcomes to *report*, calling *progress* for each letter in order."""
    for (path, result), (outcome, detail) in zip(group, outcomes, strict=True):
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
