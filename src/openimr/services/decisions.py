"""Decisions on the disputed items, by the assigned reviewer (or the command line).

Repeating a decision changes nothing. Writers that race are caught by the version columns: a
decision on an item someone else decided since it was read fails with :class:`ConflictError`, and
the loser's attempt is written to the audit log all the same. Every decision changes the case row
(its version), so that issuing the letter can never freeze decisions that changed under it.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from openimr.core.models import Decision, EvidenceLevel, Letter
from openimr.core.process import workflow
from openimr.core.process.workflow import Status
from openimr.core.roles import Action, Principal
from openimr.services import schemas as out
from openimr.services.access import ConflictError, Gate, NotFound, ProcessError, assigned, snapshot
from openimr.services.assignment import BUSY
from openimr.store.schema import (
    CaseRow,
    DecisionRow,
    ItemRow,
)


class _LostRace(Exception):
    """Internal: the compare-and-set on an item's version matched no row."""


DECISION_FIELDS = ("decision", "guideline", "evidence_level", "rationale")
# A rationale is printed in the letter as the reason for the decision: at least one sentence of
# its own, never a bare "No." or "Denied.".
MIN_RATIONALE_WORDS = 3
_WORD = re.compile(r"[^\W\d_]{2,}|\d+")


def check_rationale(rationale: str) -> None:
    """Refuse a rationale shorter than a sentence (fewer than :data:`MIN_RATIONALE_WORDS` words)."""
    if not rationale.strip():
        raise ProcessError("rationale: a decision needs its rationale, the reasons the letter prints")
    words = len(_WORD.findall(rationale))
    if words < MIN_RATIONALE_WORDS:
        raise ProcessError(
            f"rationale: {rationale.strip()[:40]!r} is shorter than a sentence: the letter prints it as"
            f" the reason for the decision, so write at least one full sentence"
            f" ({MIN_RATIONALE_WORDS} words or more)"
        )


def level_of(guideline: str, level: str | None) -> EvidenceLevel:
    """The evidence-hierarchy level (Labor Code 4610.5(c)(2)): as given, else A for an MTUS basis."""
    if level:
        try:
            return EvidenceLevel(level)
        except ValueError:
            raise ProcessError(
                f"evidence level must be one of {', '.join(EvidenceLevel)}, not {level!r}"
            ) from None
    if re.search(r"\bMTUS\b", guideline) and not re.search(r"non-MTUS", guideline, re.I):
        return EvidenceLevel.A
    raise ProcessError("the guideline is not MTUS: give its evidence level (B to F, Labor Code 4610.5(c)(2))")


class Decisions(Gate):
    """Each item's decision, with its guideline basis, evidence level and rationale."""

    def decide(
        self,
        who: Principal,
        number: str,
        position: int,
        decision: str,
        guideline: str,
        rationale: str,
        evidence_level: str | None = None,
        expected_version: int = 0,
    ) -> out.DecisionResult:
        """Decide item *position* (1-based) of the case (the assigned reviewer, or the command line).

        *expected_version* is the item's version as the reviewer last saw it: 0 for an undecided
        item. If someone decided it since, this fails with :class:`ConflictError` (and is
        audited), unless their decision is the same as this one.
        """
        with self._tx() as s:
            case = self._open(s, who, number, Action.DECIDE, read=None)
            if all(i.position != position for i in case.items):
                raise NotFound(f"case {number} has no item {position}")
            if case.status == Status.LETTER_ISSUED:
                raise workflow.TransitionError(
                    f"case {number}'s letter is issued: its decisions are final and cannot be changed"
                )
        try:
            verdict = Decision(decision)
        except ValueError:
            raise ProcessError(f"decision must be Upheld or Overturned, not {decision!r}") from None
        if not guideline.strip():
            raise ProcessError("guideline: a decision needs its guideline basis")
        check_rationale(rationale)
        attempt = {
            "decision": verdict,
            "guideline": guideline,
            "evidence_level": level_of(guideline, evidence_level),
            "rationale": rationale,
        }
        try:
            with self._tx() as s:
                # The compare-and-set comes first, so the write lock is taken before anything is read.
                won = s.execute(
                    update(ItemRow)
                    .where(
                        ItemRow.case_id
                        == select(CaseRow.id).where(CaseRow.case_number == number).scalar_subquery(),
                        ItemRow.position == position,
                        ItemRow.version == expected_version,
                    )
                    .values(version=ItemRow.version + 1)
                    .execution_options(synchronize_session=False)
                )
                if won.rowcount != 1:
                    raise _LostRace
                version, status = self._record_decision(s, who, number, position, attempt)
        except _LostRace:
            version, status = self._lost(who, number, position, attempt, expected_version)
        except ConflictError:
            # The case row changed under this decision: if the letter was issued meanwhile, say so.
            with self._tx() as s:
                case = self._case(s, number)
                if case.letter is not None:
                    raise self._issued_meanwhile(case) from None
            raise
        return out.DecisionResult(case_number=number, position=position, version=version, status=status)

    def _record_decision(
        self, s: Session, who: Principal, number: str, position: int, attempt: dict
    ) -> tuple[int, str]:
        case = self._case(s, number)
        item = next(i for i in case.items if i.position == position)
        s.refresh(item)
        if case.letter is not None:
            raise self._issued_meanwhile(case)
        if case.status not in BUSY:
            raise workflow.TransitionError(f"case {number} is {case.status}: it cannot be decided now")
        if not item.eligible:
            raise ProcessError(f"item {position} of {number} is not eligible: {item.eligibility_reason}")
        reviewer = assigned(case).reviewer
        before = snapshot(item.decision, *DECISION_FIELDS) if item.decision else None
        if item.decision is None:
            item.decision = DecisionRow(reviewer=reviewer, **attempt)
        else:
            for field, value in attempt.items():
                setattr(item.decision, field, value)
            item.decision.reviewer = reviewer
            item.decision.decided_at = dt.datetime.now(dt.UTC)
        after = {**attempt, "reviewer": reviewer.code, "version": item.version}
        self._audit(s, who, number, "decision", f"{number}#{position}", "decide", before, after)
        if case.status == Status.ASSIGNED:
            self._move(s, who, case, Status.IN_REVIEW)
        if case.status == Status.IN_REVIEW and all(i.decision for i in case.items if i.eligible):
            self._move(s, who, case, Status.DECIDED)
        # Every decision changes the case row (its version), so that issuing the letter, which checks
        # that version when it moves the case, can never freeze decisions that changed under it.
        flag_modified(case, "status")
        s.flush()
        return item.version, case.status

    @staticmethod
    def _issued_meanwhile(case: CaseRow) -> workflow.TransitionError:
        """The refusal of a decision that lost its race to the letter, naming what the letter says."""
        issued = Letter.model_validate(case.letter.record)
        said = ", ".join(f"{i.item!r} {i.decision}" for i in issued.issues)
        return workflow.TransitionError(
            f"case {case.case_number}'s letter was issued meanwhile ({said}): its decisions are final, "
            "and this one was not recorded"
        )

    def _lost(
        self, who: Principal, number: str, position: int, attempt: dict, expected: int
    ) -> tuple[int, str]:
        with self._tx() as s:
            case = self._case(s, number)
            item = next((i for i in case.items if i.position == position), None)
            if item is None:
                raise NotFound(f"case {number} has no item {position}")
            current = snapshot(item.decision, *DECISION_FIELDS) if item.decision else None
            if current == attempt:
                return item.version, case.status
            self._audit(
                s,
                who,
                number,
                "decision",
                f"{number}#{position}",
                "decide_conflict",
                {**(current or {}), "version": item.version},
                {**attempt, "expected_version": expected},
            )
        raise ConflictError(
            f"item {position} of {number} is at version {item.version}, not {expected}: someone "
            f"else decided it ({(current or {}).get('decision')}). Read it again, then pass its version "
            "to replace it."
        )
