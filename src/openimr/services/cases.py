"""Cases: intake (eligibility, due date), listing, reading and withdrawal, each for the account
that acts in the call (see :mod:`openimr.services.access`).

:class:`CaseService` is every case service in one object over one store (cases, decision support,
documents, assignment, decisions, letters, the audit log), as the web and the command line use it.

Repeating an operation with the same input changes nothing: a case resubmitted, a roster
re-imported, an assignment or decision made again, a letter issued again.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openimr.core import bounds
from openimr.core.case import Application
from openimr.core.guidelines.rules import RuleSet, load_rules
from openimr.core.process import deadlines, eligibility, support
from openimr.core.process.workflow import Status
from openimr.core.roles import Action, Principal, Role
from openimr.services import schemas as out
from openimr.services import views
from openimr.services.access import (
    ConflictError,
    Forbidden,
    Gate,
    NotFound,
    Operator,
    ProcessError,
    Taken,
    Unavailable,
    count_rows,
    operator,
    record_audit,
    snapshot,
)
from openimr.services.assignment import BUSY, Assignment
from openimr.services.audit import AuditLog, withdrawal
from openimr.services.decisions import Decisions
from openimr.services.documents import Documents, store_document
from openimr.services.letters import Letters
from openimr.services.support import Support
from openimr.services.views import OPEN, Lens, standing
from openimr.store.db import Store
from openimr.store.schema import (
    AssignmentRow,
    CaseRow,
    ItemRow,
    PartyRow,
    ReviewerRow,
)

__all__ = [
    "BUSY",
    "CaseService",
    "Cases",
    "ConflictError",
    "Forbidden",
    "NotFound",
    "Operator",
    "ProcessError",
    "Taken",
    "Unavailable",
    "operator",
    "record_audit",
    "snapshot",
]


@dataclass(frozen=True)
class CaseTally:
    """Cases per status and per standing (None: no deadline running), and the reviewers assigned."""

    statuses: Counter[str]
    standings: Counter[str | None]
    reviewers: list[str]


# The orders a case list can take (each then by case number).
CASE_SORTS = {
    "due": CaseRow.due_date,
    "received": CaseRow.application_received,
    "number": CaseRow.case_number,
}


class Cases(Gate):
    """Intake, listing, reading and withdrawal of cases."""

    def list_cases(
        self,
        who: Principal,
        today: dt.date,
        status: Status | str | Collection[Status] | None = None,
        standings: Collection[str] = (),
        limit: int | None = None,
        offset: int = 0,
        priority: str | None = None,
        reviewer: str | None = None,
        search: str | None = None,
        sort: str = "due",
        descending: bool = False,
    ) -> out.CasePage:
        """Cases (a reviewer's own only) with each open case's standing against its deadline, only
        those in *status* (one or several), with one of *standings*, of *priority*, assigned to
        *reviewer* (a code) and whose number or a disputed item contains *search*, if given;
        ordered by *sort* (a key of :data:`CASE_SORTS`), then case number; audited."""
        self.require(who, Action.LIST_CASES)
        if sort not in CASE_SORTS:
            raise ValueError(f"sort must be one of {', '.join(CASE_SORTS)}, not {sort!r}")
        items = select(func.count(ItemRow.id)).where(ItemRow.case_id == CaseRow.id).scalar_subquery()
        query = (
            select(
                CaseRow.case_number,
                CaseRow.status,
                CaseRow.priority,
                CaseRow.timeframe,
                CaseRow.due_date,
                CaseRow.application_received,
                ReviewerRow.code,
                items,
            )
            .outerjoin(AssignmentRow, AssignmentRow.case_id == CaseRow.id)
            .outerjoin(ReviewerRow, ReviewerRow.id == AssignmentRow.reviewer_id)
        )
        if who.role == Role.REVIEWER:
            query = query.where(ReviewerRow.code == who.reviewer_code)
        if status:
            wanted = [status] if isinstance(status, str) else list(status)
            query = query.where(CaseRow.status.in_([Status(s) for s in wanted]))
        if standings:
            query = query.where(CaseRow.status.in_(OPEN))
        if priority:
            query = query.where(CaseRow.priority == priority)
        if reviewer:
            query = query.where(func.upper(ReviewerRow.code) == reviewer.strip().upper())
        if search and search.strip():
            needle = search.strip().lower()
            in_items = select(ItemRow.id).where(
                ItemRow.case_id == CaseRow.id, func.lower(ItemRow.item).contains(needle, autoescape=True)
            )
            query = query.where(
                func.lower(CaseRow.case_number).contains(needle, autoescape=True) | in_items.exists()
            )
        ordered = query.order_by(
            *(
                (c.desc() if descending else c.asc()).nulls_last()
                for c in (CASE_SORTS[sort], CaseRow.case_number)
            )
        )
        with self._tx() as s:
            if standings:  # standing is computed, not stored: filter, then page
                rows = [
                    r
                    for r in s.execute(ordered)
                    if standing(r.status, r.timeframe, r.application_received, r.due_date, today) in standings
                ]
                total = len(rows)
                rows = rows[offset : None if limit is None else offset + limit]
            else:
                total = count_rows(s, query)
                rows = list(s.execute(ordered.limit(limit).offset(offset)))
            lines = [
                out.CaseLine(
                    case_number=r.case_number,
                    status=r.status,
                    priority=r.priority,
                    timeframe=r.timeframe,
                    due_date=r.due_date,
                    standing=standing(r.status, r.timeframe, r.application_received, r.due_date, today),
                    reviewer=r.code,
                    items=r[-1],
                )
                for r in rows
            ]
            self._read(s, who, None, "case_list", who.username, cases=[c.case_number for c in lines])
        return out.CasePage(items=lines, total=total, limit=total if limit is None else limit, offset=offset)

    def tally(self, who: Principal, today: dt.date) -> CaseTally:
        """How many of *who*'s cases (a reviewer's own only) are in each status and standing, and
        the reviewers they are assigned to; audited."""
        self.require(who, Action.LIST_CASES)
        query = (
            select(
                CaseRow.status,
                CaseRow.timeframe,
                CaseRow.application_received,
                CaseRow.due_date,
                ReviewerRow.code,
            )
            .outerjoin(AssignmentRow, AssignmentRow.case_id == CaseRow.id)
            .outerjoin(ReviewerRow, ReviewerRow.id == AssignmentRow.reviewer_id)
        )
        if who.role == Role.REVIEWER:
            query = query.where(ReviewerRow.code == who.reviewer_code)
        statuses: Counter[str] = Counter()
        standings: Counter[str | None] = Counter()
        reviewers: set[str] = set()
        with self._tx() as s:
            for r in s.execute(query):
                statuses[r.status] += 1
                standings[standing(r.status, r.timeframe, r.application_received, r.due_date, today)] += 1
                reviewers.update([r.code] if r.code else [])
            self._read(s, who, None, "case_tally", who.username)
        return CaseTally(statuses, standings, sorted(reviewers))

    def case(self, who: Principal, number: str, today: dt.date) -> out.CaseOut:
        """The case in full (claimant details redacted unless *who* may see them); audited."""
        with self._tx() as s:
            row = self._open(s, who, number, Action.READ_CASE)
            return views.case_out(row, Lens.of(who), today, withdrawal(s, row, who))

    def items(self, who: Principal, number: str) -> list[out.ItemOut]:
        """The disputed items, each with its version; audited."""
        with self._tx() as s:
            return [views.item_out(i) for i in self._open(s, who, number, Action.READ_CASE, "items").items]

    def create_case(
        self, who: Principal, case: Application, contents: Mapping[str, bytes] | None = None
    ) -> out.CaseCreated:
        """Take in *case*, check eligibility, set its due date; *contents* are the bytes of the
        documents it names, by path (the web sends documents as uploads instead).

        The same submission again is a no-op (``created`` false).
        """
        self.require(who, Action.CREATE_CASE)
        contents = contents or {}
        if any(doc.path not in contents for doc in case.documents):
            raise ProcessError("send documents as uploads (POST /api/cases/{case}/documents), not paths")
        submitted = case.model_dump(mode="json")
        with self._tx() as s:
            same = select(CaseRow).where(
                CaseRow.application_received == case.application_received,
                CaseRow.ur_decision_date == case.ur_decision_date,
            )
            if case.case_number:
                same = select(CaseRow).where(CaseRow.case_number == case.case_number)
            for existing in s.scalars(same):
                if existing.submitted == submitted:
                    return out.CaseCreated(
                        case_number=existing.case_number, created=False, status=existing.status
                    )
                if case.case_number:
                    raise ConflictError(f"case {case.case_number} exists with different content")
            number = case.case_number or self._next_number(s, case.application_received)
            row = self._intake(case, number, submitted)
            s.add(row)
            s.flush()
            for doc in case.documents:
                store_document(s, row, doc.path, contents[doc.path], doc.type, doc.received)
            self._audit(s, who, number, "case", number, "create", None, submitted)
            self._move(s, who, row, Status.ELIGIBILITY)
            result = eligibility.check(case)
            row.eligibility = result.as_dict()
            self._audit(s, who, number, "case", number, "eligibility", None, row.eligibility)
            self._move(s, who, row, Status.RECORDS_REQUESTED if result.eligible else Status.INELIGIBLE)
            return out.CaseCreated(case_number=number, created=True, status=row.status)

    @staticmethod
    def _next_number(s: Session, received: dt.date) -> str:
        prefix = f"CM{received:%y}-"
        last = s.scalar(select(func.max(CaseRow.case_number)).where(CaseRow.case_number.like(f"{prefix}%")))
        return f"{prefix}{int(last[len(prefix) :]) + 1 if last else 1:07d}"

    @staticmethod
    def _intake(case: Application, number: str, submitted: dict) -> CaseRow:
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

    def withdraw(self, who: Principal, number: str, reason: str) -> Status:
        """Close an open case without a determination (e.g. the treatment was authorized); the
        reason, trimmed, is required (it is kept in the audit log)."""
        with self._tx() as s:
            case = self._open(s, who, number, Action.WITHDRAW, read=None)
            reason = reason.strip()[: bounds.REASON]
            if not reason:
                raise ProcessError("say why the case is withdrawn (the reason is kept in the audit log)")
            if case.status != Status.WITHDRAWN:
                self._move(s, who, case, Status.WITHDRAWN)
                self._audit(s, who, number, "case", number, "withdraw", None, {"reason": reason})
        return Status.WITHDRAWN


class CaseService(Cases, Support, Documents, Assignment, Decisions, Letters, AuditLog):
    """The IMR process on *store*: every case service in one object, each operation for the
    account passed to it; decision support reviews with the rules *rules* gives (default: the
    packaged rules and the installed criteria packs)."""

    def __init__(self, store: Store, rules: Callable[[], RuleSet] = load_rules) -> None:
        super().__init__(store)
        self.rules = rules
