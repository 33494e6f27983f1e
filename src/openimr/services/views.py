"""What an account sees of the stored rows: the one place the API's and the pages' case, item,
assignment and reviewer answers are built, and where each role's redaction is decided.

A reader who may see claimant details (``Action.SEE_CLAIMANT``) gets them; any other gets every
one left out: the claimant fields null, and every stored reason (eligibility findings, why a
reviewer was or was not chosen) put into words that name the fact ("the date of injury", "the
employer") instead of giving it (:mod:`openimr.core.process.reasons`). Why each other reviewer was not
chosen speaks of their licences, practice and conflicts: it goes only to readers of the roster
(``Action.READ_REVIEWERS``), so a reviewer sees their own details and nobody else's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from openimr.core.models import Claimant
from openimr.core.process import deadlines, workflow
from openimr.core.process.assignment import Outcome
from openimr.core.process.reasons import words
from openimr.core.process.workflow import Status
from openimr.core.roles import Action, Principal
from openimr.services import schemas as out
from openimr.store.schema import AssignmentRow, CaseRow, DocumentRow, ItemRow, ReviewerRow

OPEN = frozenset(Status) - workflow.TERMINAL


@dataclass(frozen=True)
class Lens:
    """What one reader may see: claimant and party details, other reviewers' details."""

    private: bool
    roster: bool

    @classmethod
    def of(cls, who: Principal) -> Lens:
        return cls(private=who.can(Action.SEE_CLAIMANT), roster=who.can(Action.READ_REVIEWERS))


def standing(
    status: str, timeframe: str | None, received: dt.date, due: dt.date | None, today: dt.date
) -> str | None:
    """overdue / at_risk / on_time for an open case with a deadline, else None."""
    if status not in OPEN or not due or not timeframe:
        return None
    return deadlines.Deadline(timeframe, received, due, "", True).standing(today)


def _finding(stored: dict[str, Any], lens: Lens) -> out.FindingOut:
    return out.FindingOut(
        rule=stored["rule"],
        passed=stored["passed"],
        reason=words(stored, lens.private),
        citation=stored["citation"],
        verified=stored["verified"],
    )


def eligibility_out(stored: dict[str, Any] | None, lens: Lens) -> out.EligibilityOut | None:
    """The stored eligibility outcome, each reason worded for the reader."""
    if stored is None:
        return None
    return out.EligibilityOut(
        eligible=stored["eligible"],
        findings=[_finding(f, lens) for f in stored["findings"]],
        items=[_finding(f, lens) for f in stored["items"]],
    )


def _why_not(stored: dict[str, Any], lens: Lens) -> dict[str, str]:
    """Why not each other reviewer (a list of reasons, or one sentence as once stored), for a
    reader of the roster only."""
    if not lens.roster:
        return {}
    return {
        code: words(reasons, lens.private)
        if isinstance(reasons, str)
        else "; ".join(words(r, lens.private) for r in reasons)
        for code, reasons in stored.get("others", {}).items()
    }


def assignment_out(row: AssignmentRow, lens: Lens) -> out.AssignmentOut:
    explanation = row.explanation
    return out.AssignmentOut(
        reviewer=row.reviewer.code,
        reviewer_name=row.reviewer.name,
        assigned_on=row.assigned_on,
        why=[words(r, lens.private) for r in explanation.get("why", [])],
        others=_why_not(explanation, lens),
    )


def outcome_out(outcome: Outcome, lens: Lens) -> out.OutcomeOut:
    """An assignment just made, explained for the reader."""
    stored = outcome.as_dict()
    return out.OutcomeOut(
        case_number=outcome.case_number,
        reviewer=outcome.reviewer,
        why=[words(r, lens.private) for r in stored["why"]],
        others=_why_not(stored, lens),
    )


def document_out(d: DocumentRow) -> out.DocumentOut:
    return out.DocumentOut(id=d.id, name=d.name, doc_type=d.doc_type, received=d.received, sha256=d.sha256)


def item_out(i: ItemRow) -> out.ItemOut:
    """A disputed item; its eligibility reason speaks of the item and the UR decision only."""
    decision = None
    if i.decision:
        d = i.decision
        decision = out.DecisionOut(
            decision=d.decision,
            guideline=d.guideline,
            evidence_level=d.evidence_level,
            rationale=d.rationale,
            reviewer=d.reviewer.code,
            decided_at=d.decided_at,
        )
    return out.ItemOut(
        position=i.position,
        item=i.item,
        original_request=i.original_request,
        authorized=i.authorized,
        claims_administrator_guideline=i.claims_administrator_guideline,
        category=i.category,
        request=i.request,
        eligible=i.eligible,
        eligibility_reason=i.eligibility_reason,
        version=i.version,
        decision=decision,
    )


def case_out(
    case: CaseRow, lens: Lens, today: dt.date, withdrawal: out.WithdrawalOut | None = None
) -> out.CaseOut:
    """The case (loaded whole) as *lens* may see it, with its *withdrawal* (see
    :func:`openimr.services.audit.withdrawal`)."""
    private = lens.private
    return out.CaseOut(
        case_number=case.case_number,
        status=case.status,
        priority=case.priority,
        formulary_dispute=case.formulary_dispute,
        timeframe=case.timeframe,
        application_received=case.application_received,
        due_date=case.due_date,
        standing=standing(case.status, case.timeframe, case.application_received, case.due_date, today),
        ur_decision_date=case.ur_decision_date,
        eligibility=eligibility_out(case.eligibility, lens),
        condition_specialty=case.condition_specialty,
        redacted=not private,
        date_of_injury=case.date_of_injury if private else None,
        claimant=Claimant(age=case.claimant_age, sex=case.claimant_sex) if private else None,
        clinical_summary=case.clinical_summary if private else None,
        parties=[out.PartyOut(role=p.role, name=p.name, specialty=p.specialty) for p in case.parties]
        if private
        else None,
        documents=[document_out(d) for d in case.documents] if private else None,
        items=[item_out(i) for i in case.items],
        assignment=assignment_out(case.assignment, lens) if case.assignment else None,
        letter_issued=case.letter is not None,
        withdrawal=withdrawal,
    )


def reviewer_out(r: ReviewerRow, open_cases: int) -> out.ReviewerOut:
    """A reviewer on the roster (for readers of the roster): never their affiliations."""
    return out.ReviewerOut(
        code=r.code,
        name=r.name,
        specialties=r.specialties,
        licenses=r.licenses,
        active_practice_since=r.active_practice_since,
        weekly_clinical_hours=r.weekly_clinical_hours,
        capacity=r.capacity,
        open_cases=open_cases,
    )
