"""Synthetic corpora for benchmarks only, generated in the store and never written to the repo.

:func:`synthesize` replicates real letter records under distinct keys: copy *n* of a letter gets
the key and case number ``SYN<n>-<case or file>``, everything else is the original record, so the
corpus repeats the real letters' few hundred texts. :func:`synthesize_unique` makes letters whose
texts are their own (sentences recombined across letters, numbers and sides varied), as a real
corpus's are. Rows are bulk-inserted with explicit ids (the PostgreSQL id sequence is moved past them).
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Iterable, Sequence
from itertools import count

from sqlalchemy import Engine, func, insert, select, text

from openimr.core.models import Letter
from openimr.store.schema import IssueRow, LetterRow, LicenseStateRow, SpecialtyRow

BATCH_LETTERS = 2000


def synthesize(engine: Engine, letters: Iterable[Letter], issues: int, *, copies: bool = True) -> int:
    """Add copies of *letters* (cycled) to the migrated store until it holds *issues* more issues;
    returns the number of issues added (a letter is never split, so it may exceed *issues* slightly).
    Without *copies*, *letters* (an endless iterable) are stored as they are, under their case numbers."""
    with engine.connect() as conn:
        next_id = (conn.scalar(select(func.max(LetterRow.id))) or 0) + 1
    added, ids = 0, count(next_id)
    if copies:
        letters = list(letters)
        stream = (
            (n, letter, f"SYN{n}-{letter.case_number or letter.file}")
            for n in count()
            for letter in letters
            if letter.issues
        )
    else:
        stream = ((n, letter, letter.case_number) for n, letter in enumerate(letters))
    while added < issues:
        batch: dict[str, list[dict]] = {"letters": [], "issues": [], "states": [], "specialties": []}
        while added < issues and len(batch["letters"]) < BATCH_LETTERS:
            n, letter, key = next(stream)
            letter_id = next(ids)
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


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"(])")
_NUMBER = re.compile(r"\d+")
_SIDES = {"left": "right", "right": "left", "Left": "Right", "Right": "Left"}
_SIDE = re.compile(r"\b(?:[Ll]eft|[Rr]ight)\b")
_AGES = range(19, 80)


def _sentences(text: str | None) -> list[str]:
    return [s for s in _SENTENCE.split(text or "") if s.strip()]


class _Varier:
    """Re-writes a text with its numbers and body sides varied: every digit run becomes another
    number of the same width (no leading zero), each side flips with probability one half."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def number(self, match: re.Match) -> str:
        width = len(match.group())
        if width == 1:
            return str(self.rng.randint(1, 9))
        return str(self.rng.randint(10 ** (width - 1), 10**width - 1))

    def side(self, match: re.Match) -> str:
        word = match.group()
        return _SIDES[word] if self.rng.random() < 0.5 else word

    def __call__(self, text: str) -> str:
        return _SIDE.sub(self.side, _NUMBER.sub(self.number, text))


def synthesize_unique(engine: Engine, letters: Sequence[Letter], issues: int, seed: int = 0) -> int:
    """Add letters with texts of their own until the migrated store holds *issues* more issues.

    Letter *n* takes its shape from a real letter (cycled): its issues' decisions, guidelines and
    items (numbers and sides varied, so the features keep the real distribution). Its clinical
    summary joins 3-8 sentences drawn from every letter's summaries and each rationale the
    template's first and last sentences (the conclusion stays consistent with the decision) around
    1-4 sentences drawn from all rationales of the same decision, every sentence with numbers and
    sides varied; the decision date falls in 2014-2018. Same *seed*, same corpus."""
    rng = random.Random(seed)
    vary = _Varier(rng)
    summaries = [s for letter in letters for s in _sentences(letter.clinical_summary)]
    by_decision: dict[str, list[str]] = {}
    for letter in letters:
        for issue in letter.issues:
            by_decision.setdefault(issue.decision, []).extend(_sentences(issue.rationale)[1:-1])
    templates = [letter for letter in letters if letter.issues]

    def rationale(text: str | None, decision: str) -> str:
        own = _sentences(text)
        pool = by_decision.get(decision) or summaries
        middle = [rng.choice(pool) for _ in range(rng.randint(1, 4))]
        return " ".join(vary(s) for s in [*own[:1], *middle, *own[-1:]])

    def letter_of(n: int) -> Letter:
        template = templates[n % len(templates)]
        summary = " ".join(vary(rng.choice(summaries)) for _ in range(rng.randint(3, 8)))
        decided = dt.date(rng.randint(2014, 2018), rng.randint(1, 12), rng.randint(1, 28))
        return template.model_copy(
            update={
                "case_number": f"UNQ{n:07d}",
                "decision_date": decided,
                "clinical_summary": summary,
                "claimant": template.claimant.model_copy(update={"age": rng.choice(_AGES)}),
                "issues": [
                    issue.model_copy(
                        update={
                            "item": vary(issue.item),
                            "rationale": rationale(issue.rationale, issue.decision),
                        }
                    )
                    for issue in template.issues
                ],
            }
        )

    return synthesize(engine, (letter_of(n) for n in count()), issues, copies=False)
