"""The reviewer roster and the assignment of cases to reviewers (an optimized batch, or one case
handed to another qualified reviewer)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openimr.core.case import Party
from openimr.core.process import assignment, workflow
from openimr.core.process.roster import License, ReviewerIn
from openimr.core.process.workflow import Status
from openimr.core.roles import Action, Principal
from openimr.services import schemas as out
from openimr.services import views
from openimr.services.access import Gate, ProcessError, snapshot
from openimr.services.views import Lens
from openimr.store.schema import (
    AssignmentRow,
    CaseRow,
    ReviewerRow,
)

BUSY = (Status.ASSIGNED, Status.IN_REVIEW, Status.DECIDED)


def open_assignments(s: Session) -> dict[int, int]:
    """Reviewer id -> how many cases assigned to that reviewer are still open (assigned, in review
    or decided but not yet issued)."""
    return dict(
        s.execute(
            select(AssignmentRow.reviewer_id, func.count())
            .join(CaseRow, AssignmentRow.case_id == CaseRow.id)
            .where(CaseRow.status.in_(BUSY))
            .group_by(AssignmentRow.reviewer_id)
        ).all()
    )


REVIEWER_FIELDS = (
    "name",
    "licenses",
    "specialties",
    "active_practice_since",
    "weekly_clinical_hours",
    "affiliations",
    "capacity",
)


def _roster(s: Session) -> tuple[list[ReviewerRow], list[assignment.Candidate]]:
    """The reviewers by code, and each as the assigner sees them (with their open cases)."""
    reviewers = list(s.scalars(select(ReviewerRow).order_by(ReviewerRow.code)))
    busy = open_assignments(s)
    return reviewers, [
        assignment.Candidate(
            code=r.code,
            name=r.name,
            licenses=tuple(License(**lic) for lic in r.licenses),
            specialties=tuple(r.specialties),
            active_practice_since=r.active_practice_since,
            weekly_clinical_hours=r.weekly_clinical_hours,
            affiliations=tuple(r.affiliations),
            capacity=r.capacity,
            open_cases=busy.get(r.id, 0),
        )
        for r in reviewers
    ]


def _need(c: CaseRow, today: dt.date) -> assignment.Need:
    """The case as the assigner sees it."""
    return assignment.Need(
        case_number=c.case_number,
        due=c.due_date or today,
        services=tuple(i.category for i in c.items if i.eligible),
        condition_specialty=c.condition_specialty,
        parties=tuple(Party(role=p.role, name=p.name) for p in c.parties),
    )


def qualified_for(s: Session, case: CaseRow, today: dt.date) -> dict[str, out.CandidateOut]:
    """Code -> each reviewer other than the case's assigned one, by code: whether they may take it
    now and, if not, why (in words with the parties named: only those who may assign read it, and
    they may see the parties)."""
    _, roster = _roster(s)
    need = _need(case, today)
    mine = case.assignment.reviewer.code if case.assignment else None
    shown = {}
    for c in roster:
        if c.code == mine:
            continue
        why_not = assignment.why_not(c, need, today)
        shown[c.code] = out.CandidateOut(
            code=c.code,
            name=c.name,
            qualifies=not why_not,
            open_cases=c.open_cases,
            capacity=c.capacity,
            why_not=[r.text() for r in why_not],
        )
    return shown


class Assignment(Gate):
    """The roster and who reviews which case."""

    def reviewers(self, who: Principal, limit: int, offset: int) -> out.ReviewerPage:
        """The roster, with each reviewer's open cases."""
        self.require(who, Action.READ_REVIEWERS)
        with self._tx() as s:
            total = s.scalar(select(func.count()).select_from(ReviewerRow)) or 0
            busy = open_assignments(s)
            rows = s.scalars(select(ReviewerRow).order_by(ReviewerRow.code).limit(limit).offset(offset))
            items = [views.reviewer_out(r, busy.get(r.id, 0)) for r in rows]
        return out.ReviewerPage(items=items, total=total, limit=limit, offset=offset)

    def import_reviewers(self, who: Principal, roster: list[ReviewerIn]) -> out.ImportCounts:
        """Create or update reviewers by code; counts of created, updated and unchanged."""
        self.require(who, Action.WRITE_REVIEWERS)
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        with self._tx() as s:
            for entry in roster:
                values = entry.model_dump(mode="json", exclude={"code"})
                values["active_practice_since"] = entry.active_practice_since
                row = s.scalar(select(ReviewerRow).where(ReviewerRow.code == entry.code))
                if row is None:
                    row = ReviewerRow(code=entry.code, **values)
                    s.add(row)
                    after = snapshot(row, *REVIEWER_FIELDS)
                    self._audit(s, who, None, "reviewer", entry.code, "create", None, after)
                    counts["created"] += 1
                    continue
                before = snapshot(row, *REVIEWER_FIELDS)
                for field, value in values.items():
                    setattr(row, field, value)
                after = snapshot(row, *REVIEWER_FIELDS)
                if after == before:
                    counts["unchanged"] += 1
                else:
                    self._audit(s, who, None, "reviewer", entry.code, "update", before, after)
                    counts["updated"] += 1
        return out.ImportCounts(**counts)

    def assign(self, who: Principal, numbers: list[str] | None, today: dt.date) -> list[out.OutcomeOut]:
        """Assign the named cases (None: every case awaiting a reviewer) as one optimized batch,
        each explained as *who* may read it."""
        self.require(who, Action.ASSIGN)
        with self._tx() as s:
            query = select(CaseRow).where(CaseRow.status == Status.RECORDS_REQUESTED)
            if numbers is not None:
                for number in numbers:
                    case = self._case(s, number)
                    if case.status != Status.RECORDS_REQUESTED and case.assignment is None:
                        workflow.check(case.status, Status.ASSIGNED)
                query = query.where(CaseRow.case_number.in_(numbers))
            cases = list(s.scalars(query))
            reviewers, roster = _roster(s)
            needs = [_need(c, today) for c in cases]
            outcomes = assignment.assign(needs, roster, today)
            by_code = {r.code: r for r in reviewers}
            for case, outcome in zip(cases, outcomes, strict=True):
                if outcome.reviewer is None:
                    continue
                s.add(
                    AssignmentRow(
                        case=case,
                        reviewer=by_code[outcome.reviewer],
                        assigned_on=today,
                        explanation=outcome.as_dict(),
                    )
                )
                self._audit(
                    s,
                    who,
                    case.case_number,
                    "assignment",
                    case.case_number,
                    "create",
                    None,
                    outcome.as_dict(),
                )
                self._move(s, who, case, Status.ASSIGNED)
        lens = Lens.of(who)
        return [views.outcome_out(o, lens) for o in outcomes]

    def reassign(self, who: Principal, number: str, reviewer: str | None, today: dt.date) -> out.OutcomeOut:
        """Give an assigned case with no decision yet to *reviewer* (None: the best other qualified
        reviewer); the assignment is replaced, and the change audited. A reviewer not on the roster
        or who may not take the case, or nobody left to take it, is a :class:`ProcessError` saying
        why, and nothing changes."""
        self.require(who, Action.ASSIGN, number, "assignment")
        with self._tx() as s:
            case = self._case(s, number)
            current = case.assignment
            if current is None or case.status not in (Status.ASSIGNED, Status.IN_REVIEW):
                raise ProcessError(f"case {number} is {case.status}: only an assigned case can be reassigned")
            held = current.reviewer.code
            if any(i.decision for i in case.items):
                raise ProcessError(f"case {number} has decisions already: it stays with {held}")
            rows, roster = _roster(s)
            need = _need(case, today)
            others = [c for c in roster if c.code != held]
            if reviewer is not None:
                if reviewer == held:
                    raise ProcessError(f"case {number} is already assigned to {held}")
                others = [c for c in others if c.code == reviewer]
                if not others:
                    raise ProcessError(f"no reviewer {reviewer} on the roster")
                refused = assignment.why_not(others[0], need, today)
                if refused:
                    raise ProcessError(
                        f"{reviewer} may not take case {number}: {'; '.join(r.text() for r in refused)}"
                    )
            outcome = assignment.assign([need], others, today)[0]
            if outcome.reviewer is None:
                raise ProcessError(f"no other reviewer may take case {number} now: it stays with {held}")
            before = snapshot(current, "assigned_on", "explanation") | {"reviewer": held}
            current.reviewer = next(r for r in rows if r.code == outcome.reviewer)
            current.assigned_on = today
            current.explanation = outcome.as_dict()
            self._audit(s, who, number, "assignment", number, "reassign", before, outcome.as_dict())
        return views.outcome_out(outcome, Lens.of(who))

    def candidates(self, who: Principal, number: str, today: dt.date) -> list[out.CandidateOut]:
        """Each reviewer other than the assigned one, by code: whether they may take the case now
        and, if not, why."""
        self.require(who, Action.ASSIGN, number, "assignment")
        with self._tx() as s:
            return list(qualified_for(s, self._case(s, number), today).values())
