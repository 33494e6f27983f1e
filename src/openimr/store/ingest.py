"""Storing parsed letters: one transaction per letter, idempotent by the letter's key.

A letter already in the store (same case number, else same source content) is left as it is, so a
batch that was interrupted can simply be run again: every letter ends up stored exactly once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from openimr.letters.errors import LetterError
from openimr.letters.parse import parse_paths
from openimr.models import Letter
from openimr.store.db import make_engine, migrate, session_factory
from openimr.store.tables import LetterRow, letter_key, letter_row

Outcome = Literal["stored", "unchanged", "error"]
Progress = Callable[[Path, Outcome, str | None], None]


@dataclass
class IngestReport:
    """What a batch did: keys stored, keys already present, and ``file: problem`` errors."""

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


def store_letter(session: Session, letter: Letter, source_hash: str) -> bool:
    """Add *letter* to *session* unless its key is stored; True when added.

    The caller owns the transaction; commit it to store the letter with its issues.
    """
    key = letter_key(letter, source_hash)
    if session.scalar(select(LetterRow.id).where(LetterRow.key == key)) is not None:
        return False
    session.add(letter_row(letter, source_hash))
    return True


def store_one(sessions: sessionmaker[Session], letter: Letter, source_hash: str) -> bool:
    """Store *letter* in a transaction of its own; True when new, False when already stored."""
    try:
        with sessions.begin() as session:
            return store_letter(session, letter, source_hash)
    except IntegrityError:
        # A concurrent writer stored the same key first: that is the letter, already stored.
        with sessions() as session:
            key = letter_key(letter, source_hash)
            if session.scalar(select(LetterRow.id).where(LetterRow.key == key)) is None:
                raise
        return False


def ingest_paths(
    paths: Iterable[Path], db_url: str | None = None, jobs: int = 1, progress: Progress | None = None
) -> IngestReport:
    """Parse the letters at *paths* (folders expanded) and store each one in *db_url*.

    The database is upgraded to the newest schema first. A file that cannot be parsed is reported
    in ``errors`` and the batch goes on. *progress*, when given, is called after each file with
    its path, outcome and error message (``None`` unless the outcome is "error").
    """
    migrate(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    report = IngestReport()
    try:
        for path, result in parse_paths(list(paths), jobs):
            if isinstance(result, LetterError):
                report.errors.append(str(result))
                if progress:
                    progress(path, "error", str(result))
                continue
            source_hash = file_hash(path)
            key = letter_key(result, source_hash)
            stored = store_one(sessions, result, source_hash)
            (report.stored if stored else report.unchanged).append(key)
            if progress:
                progress(path, "stored" if stored else "unchanged", None)
    finally:
        engine.dispose()
    return report
