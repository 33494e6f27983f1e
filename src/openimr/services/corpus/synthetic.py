"""A synthetic corpus for benchmarks only: real letter records replicated under distinct keys.

Copy *n* of a letter gets the key and case number ``SYN<n>-<case or file>``; everything else is
the original record, so the texts, decisions and features keep the real corpus's distribution.
Rows are bulk-inserted with explicit ids (the PostgreSQL id sequence is moved past them).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count

from sqlalchemy import Engine, func, insert, select, text

from openimr.core.models import Letter
from openimr.store.schema import IssueRow, LetterRow, LicenseStateRow, SpecialtyRow

BATCH_LETTERS = 2000


def synthesize(engine: Engine, letters: Sequence[Letter], issues: int) -> int:
    """Add copies of *letters* (cycled) to the migrated store until it holds *issues* more issues;
    returns the number of issues added (a letter is never split, so it may exceed *issues* slightly)."""
    with engine.connect() as conn:
        next_id = (conn.scalar(select(func.max(LetterRow.id))) or 0) + 1
    added, ids = 0, count(next_id)
    copies = ((n, letter) for n in count() for letter in letters if letter.issues)
    while added < issues:
        batch: dict[str, list[dict]] = {"letters": [], "issues": [], "states": [], "specialties": []}
        while added < issues and len(batch["letters"]) < BATCH_LETTERS:
            n, letter = next(copies)
            letter_id = next(ids)
            key = f"SYN{n}-{letter.case_number or letter.file}"
            batch["letters"].append(
                {
                    "id": letter_id,
                    "key": key,
                    "file": letter.file,
                    "source_hash": f"{n:064x}"[-64:],
                    "case_number": key,
                    "decision_date": letter.decision_date,
                    "date_assigned": letter.date_assigned,
                    "priority": letter.priority,
                    "claimant_age": letter.claimant.age,
                    "claimant_sex": letter.claimant.sex,
                    "clinical_summary": letter.clinical_summary,
                }
            )
            for i, issue in enumerate(letter.issues):
                batch["issues"].append({"letter_id": letter_id, "position": i, **issue.model_dump()})
            for i, state in enumerate(letter.reviewer.license_states):
                batch["states"].append({"letter_id": letter_id, "position": i, "state": state})
            for i, specialty in enumerate(letter.reviewer.specialties):
                batch["specialties"].append({"letter_id": letter_id, "position": i, "specialty": specialty})
            added += len(letter.issues)
        with engine.begin() as conn:
            for table, rows in (
                (LetterRow, batch["letters"]),
                (IssueRow, batch["issues"]),
                (LicenseStateRow, batch["states"]),
                (SpecialtyRow, batch["specialties"]),
            ):
                if rows:
                    conn.execute(insert(table.__table__), rows)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('letters', 'id'), max(id)) FROM letters"))
    return added
