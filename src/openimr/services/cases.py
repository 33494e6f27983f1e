"""The process's operations on the store. Each is one transaction, audited, and safe to repeat.

Repeating an operation with the same input changes nothing: a case resubmitted, a roster
re-imported, an assignment or decision made again, a letter issued again. Writers that race are
caught by the version columns: a status change on a case another transaction changed, or a
decision on an item someone else decided since it was read, fails with :class:`ConflictError`,
and the loser's attempt is written to the audit log all the same.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from openimr.core.models import Claimant, Issue, Letter, Reviewer
from openimr.core.process import assignment, deadlines, eligibility, support, workflow
from openimr.core.process.data import load
from openimr.core.process.intake import CaseIn, License, Party, ReviewerIn
from openimr.core.process.workflow import Status
from openimr.store.db import make_engine, migrate, session_factory
from openimr.store.schema import (
    EVIDENCE_LEVELS,
    AssignmentRow,
    AuditRow,
    BlobRow,
    CaseRow,
    DecisionRow,
    DocumentRow,
    IssuedLetterRow,
    ItemRow,
    PartyRow,
    ReviewerRow,
)

OPEN = frozenset(Status) - workflow.TERMINAL
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


def record_audit(
    s: Session,
    actor: str,
    case_number: str | None,
    entity: str,
    key: str,
    action: str,
    before: dict | None,
    after: dict | None,
) -> None:
    """Append one row to the audit log (who, what, before and after) in the session's transaction."""
    s.add(
        AuditRow(
            actor=actor,
            case_number=case_number,
            entity=entity,
            entity_key=key,
            action=action,
            before=before,
            after=after,
        )
    )


class ProcessError(Exception):
    """An operation that cannot be done as asked; the message says why."""


class NotFound(ProcessError):
    """No such case, item or reviewer."""


class ConflictError(ProcessError):
    """Someone else changed the same thing first."""


class _LostRace(Exception):
    """Internal: the compare-and-set on an item's version matched no row."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def snapshot(row: Any, *fields: str) -> dict[str, Any]:
    """The named column values of *row*, JSON-ready."""
    return {f: _jsonable(getattr(row, f)) for f in fields}


REVIEWER_FIELDS = (
    "name",
    "licenses",
    "specialties",
    "active_practice_since",
    "weekly_clinical_hours",
    "affiliations",
    "capacity",
)
DECISION_FIELDS = ("decision", "guideline", "evidence_level", "rationale")


def evidence_level(guideline: str, level: str | None) -> str:
    """The evidence-hierarchy level (Labor Code 4610.5(c)(2)): as given, else A for an MTUS basis."""
    if level:
        if level not in EVIDENCE_LEVELS:
            raise ProcessError(f"evidence level must be one of {', '.join(EVIDENCE_LEVELS)}, not {level!r}")
        return level
    if re.search(r"\bMTUS\b", guideline) and not re.search(r"non-MTUS", guideline, re.I):
        return "A"
    raise ProcessError("the guideline is not MTUS: give its evidence level (B to F, Labor Code 4610.5(c)(2))")


@dataclass(frozen=True)
class CaseSummary:
    """A line of ``cases list``."""

    case_number: str
    status: str
    priority: str
    timeframe: str | None
    due: dt.date | None
    standing: str | None
    reviewer: str | None


class Process:
    """The IMR process on the store at *url*, acting as *actor* (written to the audit log)."""

    def __init__(self, url: str | None = None, actor: str | None = None) -> None:
        migrate(url)
        self.engine = make_engine(url)
        self.sessions = session_factory(self.engine)
        self.actor = actor or getpass.getuser()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        try:
            with self.sessions.begin() as session:
                yield session
        except StaleDataError as exc:
            raise ConflictError("the case was changed by someone else meanwhile; read it again") from exc

    def _audit(
        self,
        s: Session,
        case_number: str | None,
        entity: str,
        key: str,
        action: str,
        before: dict | None,
        after: dict | None,
    ) -> None:
        record_audit(s, self.actor, case_number, entity, key, action, before, after)

    def _move(self, s: Session, case: CaseRow, target: Status) -> None:
        before = case.status
        case.status = workflow.check(before, target)
        s.flush()
        self._audit(
            s,
            case.case_number,
            "case",
            case.case_number,
            "transition",
            {"status": before},
            {"status": target},
        )

    @staticmethod
    def _case(s: Session, case_number: str) -> CaseRow:
        case = s.scalar(select(CaseRow).where(CaseRow.case_number == case_number))
        if case is None:
            raise NotFound(f"no case {case_number}")
        return case

    # Reviewers -------------------------------------------------------------------------------

    def import_reviewers(self, roster: list[ReviewerIn]) -> dict[str, int]:
        """Create or update reviewers by code; returns counts of created, updated and unchanged."""
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        with self._tx() as s:
            for entry in roster:
                values = entry.model_dump(mode="json", exclude={"code"})
                values["active_practice_since"] = entry.active_practice_since
                row = s.scalar(select(ReviewerRow).where(ReviewerRow.code == entry.code))
                if row is None:
                    row = ReviewerRow(code=entry.code, **values)
                    s.add(row)
                    self._audit(
                        s, None, "reviewer", entry.code, "create", None, snapshot(row, *REVIEWER_FIELDS)
                    )
                    counts["created"] += 1
                    continue
                before = snapshot(row, *REVIEWER_FIELDS)
                for field, value in values.items():
                    setattr(row, field, value)
                after = snapshot(row, *REVIEWER_FIELDS)
                if after == before:
                    counts["unchanged"] += 1
                else:
                    self._audit(s, None, "reviewer", entry.code, "update", before, after)
                    counts["updated"] += 1
        return counts

    # Intake ----------------------------------------------------------------------------------

    def create_case(self, case: CaseIn, base: Path = Path()) -> tuple[str, bool]:
        """Take in *case* (documents relative to *base*), check eligibility, set its due date.

        Returns the case number and whether it was new; the same submission again is a no-op.
        """
        submitted = case.model_dump(mode="json")
        blobs = {doc.path: (base / doc.path).read_bytes() for doc in case.documents}
        with self._tx() as s:
            same = select(CaseRow).where(
                CaseRow.application_received == case.application_received,
                CaseRow.ur_decision_date == case.ur_decision_date,
            )
            if case.case_number:
                same = select(CaseRow).where(CaseRow.case_number == case.case_number)
            for existing in s.scalars(same):
                if existing.submitted == submitted:
                    return existing.case_number, False
                if case.case_number:
                    raise ConflictError(f"case {case.case_number} exists with different content")
            number = case.case_number or self._next_number(s, case.application_received)
            row = self._intake(case, number, submitted)
            s.add(row)
            s.flush()
            self._store_documents(s, row, case, blobs)
            self._audit(s, number, "case", number, "create", None, submitted)
            self._move(s, row, Status.ELIGIBILITY)
            result = eligibility.check(case)
            row.eligibility = result.as_dict()
            self._audit(s, number, "case", number, "eligibility", None, row.eligibility)
            self._move(s, row, Status.RECORDS_REQUESTED if result.eligible else Status.INELIGIBLE)
        return number, True

    @staticmethod
    def _next_number(s: Session, received: dt.date) -> str:
        prefix = f"CM{received:%y}-"
        last = s.scalar(select(func.max(CaseRow.case_number)).where(CaseRow.case_number.like(f"{prefix}%")))
        return f"{prefix}{int(last[len(prefix) :]) + 1 if last else 1:07d}"

    @staticmethod
    def _intake(case: CaseIn, number: str, submitted: dict) -> CaseRow:
        result = eligibility.check(case)
        deadline = deadlines.due_date(
            case.priority, case.formulary_dispute, case.application_received, case.documents_received
        )
        row = CaseRow(
            case_number=number,
            status=Status.RECEIVED,
            priority=case.priority,
            formulary_dispute=case.formulary_dispute,
            application_received=case.application_received,
            documents_received=case.documents_received,
            date_of_injury=case.date_of_injury,
            ur_decision_date=case.ur_decision_date,
            ur_decision_served=case.ur_decision_served,
            claimant_age=case.claimant.age,
            claimant_sex=case.claimant.sex,
            condition_specialty=case.specialty_of_condition(),
            clinical_summary=case.clinical_summary,
            timeframe=deadline.timeframe,
            due_date=deadline.due,
            submitted=submitted,
        )
        row.parties = [PartyRow(role=p.role, name=p.name, specialty=p.specialty) for p in case.parties]
        for position, (item, finding) in enumerate(zip(case.disputed_items, result.items, strict=True), 1):
            request = support.parse_request(item.item)
            row.items.append(
                ItemRow(
                    position=position,
                    item=item.item,
                    original_request=item.original_request,
                    authorized=item.authorized,
                    claims_administrator_guideline=item.claims_administrator_guideline,
                    category=item.category or (request or {}).get("category") or "other",
                    request=request,
                    eligible=finding.passed,
                    eligibility_reason=finding.reason,
                    version=0,
                )
            )
        return row

    @staticmethod
    def _store_documents(s: Session, row: CaseRow, case: CaseIn, blobs: dict[str, bytes]) -> None:
        for doc in case.documents:
            content = blobs[doc.path]
            digest = hashlib.sha256(content).hexdigest()
            if s.get(BlobRow, digest) is None:
                s.add(BlobRow(sha256=digest, size=len(content), content=content))
            if all(d.sha256 != digest for d in row.documents):
                row.documents.append(
                    DocumentRow(
                        sha256=digest, name=Path(doc.path).name, doc_type=doc.type, received=doc.received
                    )
                )

    # Reports ---------------------------------------------------------------------------------

    def list_cases(self, today: dt.date, status: str | None = None) -> list[CaseSummary]:
        """Cases by due date, with each open case's standing against its deadline."""
        with self._tx() as s:
            query = select(CaseRow).order_by(CaseRow.due_date, CaseRow.case_number)
            if status:
                query = query.where(CaseRow.status == Status(status))
            out = []
            for case in s.scalars(query):
                standing = None
                if case.status in OPEN and case.due_date and case.timeframe:
                    standing = deadlines.Deadline(
                        case.timeframe, case.application_received, case.due_date, "", True
                    ).standing(today)
                reviewer = case.assignment.reviewer.code if case.assignment else None
                out.append(
                    CaseSummary(
                        case.case_number,
                        case.status,
                        case.priority,
                        case.timeframe,
                        case.due_date,
                        standing,
                        reviewer,
                    )
                )
            return out

    def audit(self, case_number: str) -> list[AuditRow]:
        """Every change to the case, oldest first."""
        with self._tx() as s:
            self._case(s, case_number)
            return list(
                s.scalars(select(AuditRow).where(AuditRow.case_number == case_number).order_by(AuditRow.id))
            )

    def notice(self, case_number: str) -> str:
        """The ineligibility notice of an ineligible case."""
        with self._tx() as s:
            case = self._case(s, case_number)
            if case.status != Status.INELIGIBLE:
                raise ProcessError(f"case {case_number} is {case.status}, not ineligible")
            return eligibility.notice(case_number, case.eligibility or {})

    # Assignment ------------------------------------------------------------------------------

    def assign(self, case_numbers: list[str] | None, today: dt.date) -> list[assignment.Outcome]:
        """Assign the named cases (None: every case awaiting a reviewer) as one optimized batch."""
        with self._tx() as s:
            query = select(CaseRow).where(CaseRow.status == Status.RECORDS_REQUESTED)
            if case_numbers is not None:
                for number in case_numbers:
                    case = self._case(s, number)
                    if case.status != Status.RECORDS_REQUESTED and case.assignment is None:
                        workflow.check(case.status, Status.ASSIGNED)
                query = query.where(CaseRow.case_number.in_(case_numbers))
            cases = list(s.scalars(query))
            reviewers = list(s.scalars(select(ReviewerRow).order_by(ReviewerRow.code)))
            busy = open_assignments(s)
            roster = [
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
            needs = [
                assignment.Need(
                    case_number=c.case_number,
                    due=c.due_date or today,
                    services=tuple(i.category for i in c.items if i.eligible),
                    condition_specialty=c.condition_specialty,
                    parties=tuple(Party(role=p.role, name=p.name) for p in c.parties),
                )
                for c in cases
            ]
            outcomes = assignment.assign(needs, roster, today)
            by_code = {r.code: r for r in reviewers}
            for case, outcome in zip(cases, outcomes, strict=True):
                if outcome.reviewer is None:
                    continue
                row = AssignmentRow(
                    case=case,
                    reviewer=by_code[outcome.reviewer],
                    assigned_on=today,
                    explanation=outcome.as_dict(),
                )
                s.add(row)
                self._audit(
                    s, case.case_number, "assignment", case.case_number, "create", None, outcome.as_dict()
                )
                self._move(s, case, Status.ASSIGNED)
            return outcomes

    # Decisions -------------------------------------------------------------------------------

    def decide(
        self,
        case_number: str,
        position: int,
        decision: str,
        guideline: str,
        rationale: str,
        level: str | None = None,
        expected_version: int = 0,
    ) -> int:
        """Decide item *position* (1-based) of the case; returns the item's new version.

        *expected_version* is the item's version as the reviewer last saw it: 0 for an undecided
        item. If someone decided it since, this fails with :class:`ConflictError` (and is
        audited), unless their decision is the same as this one.
        """
        if decision not in ("Upheld", "Overturned"):
            raise ProcessError(f"decision must be Upheld or Overturned, not {decision!r}")
        if not guideline.strip() or not rationale.strip():
            raise ProcessError("a decision needs its guideline basis and its rationale")
        attempt = {
            "decision": decision,
            "guideline": guideline,
            "evidence_level": evidence_level(guideline, level),
            "rationale": rationale,
        }
        try:
            with self._tx() as s:
                # The compare-and-set comes first, so the write lock is taken before anything is read.
                won = s.execute(
                    update(ItemRow)
                    .where(
                        ItemRow.case_id
                        == select(CaseRow.id).where(CaseRow.case_number == case_number).scalar_subquery(),
                        ItemRow.position == position,
                        ItemRow.version == expected_version,
                    )
                    .values(version=ItemRow.version + 1)
                    .execution_options(synchronize_session=False)
                )
                if won.rowcount != 1:
                    raise _LostRace
                return self._record_decision(s, case_number, position, attempt)
        except _LostRace:
            return self._lost(case_number, position, attempt, expected_version)

    def _record_decision(self, s: Session, case_number: str, position: int, attempt: dict) -> int:
        case = self._case(s, case_number)
        item = next(i for i in case.items if i.position == position)
        s.refresh(item)
        if case.status not in (Status.ASSIGNED, Status.IN_REVIEW, Status.DECIDED):
            raise workflow.TransitionError(f"case {case_number} is {case.status}: it cannot be decided now")
        if not item.eligible:
            raise ProcessError(f"item {position} of {case_number} is not eligible: {item.eligibility_reason}")
        assert case.assignment is not None  # assigned, in review or decided
        before = snapshot(item.decision, *DECISION_FIELDS) if item.decision else None
        if item.decision is None:
            item.decision = DecisionRow(reviewer=case.assignment.reviewer, **attempt)
        else:
            for field, value in attempt.items():
                setattr(item.decision, field, value)
            item.decision.reviewer = case.assignment.reviewer
            item.decision.decided_at = dt.datetime.now(dt.UTC)
        after = {**attempt, "reviewer": case.assignment.reviewer.code, "version": item.version}
        self._audit(s, case_number, "decision", f"{case_number}#{position}", "decide", before, after)
        if case.status == Status.ASSIGNED:
            self._move(s, case, Status.IN_REVIEW)
        if case.status == Status.IN_REVIEW and all(i.decision for i in case.items if i.eligible):
            self._move(s, case, Status.DECIDED)
        return item.version

    def _lost(self, case_number: str, position: int, attempt: dict, expected: int) -> int:
        with self._tx() as s:
            case = self._case(s, case_number)
            item = next((i for i in case.items if i.position == position), None)
            if item is None:
                raise NotFound(f"case {case_number} has no item {position}")
            current = snapshot(item.decision, *DECISION_FIELDS) if item.decision else None
            if current == attempt:
                return item.version
            self._audit(
                s,
                case_number,
                "decision",
                f"{case_number}#{position}",
                "decide_conflict",
                {**(current or {}), "version": item.version},
                {**attempt, "expected_version": expected},
            )
        raise ConflictError(
            f"item {position} of {case_number} is at version {item.version}, not {expected}: someone "
            f"else decided it ({(current or {}).get('decision')}). Read it again, then pass its version "
            "to replace it."
        )

    # Letters ---------------------------------------------------------------------------------

    def issue(self, case_number: str, today: dt.date) -> tuple[Letter, bool]:
        """Freeze the case's Final Determination letter; returns it and whether it is new."""
        with self._tx() as s:
            case = self._case(s, case_number)
            if case.letter is not None:
                return Letter.model_validate(case.letter.record), False
            workflow.check(case.status, Status.LETTER_ISSUED)
            letter = self.letter_record(case, today)
            record = letter.to_json_dict()
            digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
            case.letter = IssuedLetterRow(case_id=case.id, record=record, sha256=digest, issued_by=self.actor)
            s.flush()
            self._audit(s, case_number, "letter", case_number, "issue", None, {"sha256": digest})
            self._move(s, case, Status.LETTER_ISSUED)
            return letter, True

    @staticmethod
    def letter_record(case: CaseRow, today: dt.date) -> Letter:
        """The Final Determination letter record of a decided case, as issuing builds it."""
        assert case.assignment is not None  # a decided case was assigned
        reviewer = case.assignment.reviewer
        standing = load("specialties")["qualification"]["good_standing"]
        states = [
            lic.state
            for lic in (License(**x) for x in reviewer.licenses)
            if lic.in_good_standing(today, standing)
        ]
        return Letter(
            file=case.case_number,
            case_number=case.case_number,
            date_assigned=case.assignment.assigned_on,
            date_of_injury=case.date_of_injury,
            decision_date=today,
            ur_denial_date=case.ur_decision_date,
            application_received=case.application_received,
            priority=case.priority,
            reviewer=Reviewer(license_states=list(dict.fromkeys(states)), specialties=reviewer.specialties),
            claimant=Claimant(age=case.claimant_age, sex=case.claimant_sex),
            clinical_summary=case.clinical_summary,
            issues=[
                Issue(
                    item=i.item,
                    original_request=i.original_request,
                    authorized=i.authorized,
                    decision=i.decision.decision,
                    claims_administrator_guideline=i.claims_administrator_guideline,
                    imro_guideline=i.decision.guideline,
                    rationale=i.decision.rationale,
                )
                for i in case.items
                if i.eligible and i.decision
            ],
        )

    def withdraw(self, case_number: str, reason: str) -> None:
        """Close an open case without a determination (e.g. the treatment was authorized)."""
        with self._tx() as s:
            case = self._case(s, case_number)
            if case.status == Status.WITHDRAWN:
                return
            self._move(s, case, Status.WITHDRAWN)
            self._audit(s, case_number, "case", case_number, "withdraw", None, {"reason": reason})
