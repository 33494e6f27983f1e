"""What the API and the pages do, for one signed-in account: the process's operations behind the
role checks, with every read and write of a case written to the process audit log.

Writes go through :class:`openimr.process.service.Process` acting as the account (so the audit
log names who did it); reads are queries of their own that load a case in one round of
statements and add one ``read`` row to the audit log in the same transaction.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from openimr.guidelines import load_rules, rules_for
from openimr.letters.render import Format, render
from openimr.models import Claimant, Letter
from openimr.process import deadlines
from openimr.process.intake import CaseIn, ReviewerIn
from openimr.process.service import OPEN, NotFound, Process, ProcessError, open_assignments, record_audit
from openimr.process.support import decision_support
from openimr.process.tables import (
    AssignmentRow,
    AuditRow,
    BlobRow,
    CaseRow,
    DocumentRow,
    ItemRow,
    ReviewerRow,
)
from openimr.process.workflow import Status
from openimr.store.db import default_db_url
from openimr.web import schemas as out
from openimr.web.auth import Action, Principal

UNAVAILABLE = "decision support unavailable: no review engine is installed"


def _count(session: Session, query: Select) -> int:
    """How many rows *query* returns, counted by the database (for a paged listing's total)."""
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


class Forbidden(ProcessError):
    """The account may not do this (its role, or the case is not assigned to it)."""


class Unavailable(ProcessError):
    """A part of OpenIMR this needs is not installed."""


def standing(
    status: str, timeframe: str | None, received: dt.date, due: dt.date | None, today: dt.date
) -> str | None:
    """overdue / at_risk / on_time for an open case with a deadline, else None."""
    if status not in OPEN or not due or not timeframe:
        return None
    return deadlines.Deadline(timeframe, received, due, "", True).standing(today)


@lru_cache(maxsize=4096)
def _governing(category: str, drug_class: str | None, region: str | None, text: str, postop: bool) -> Any:
    rules = rules_for(category, drug_class, region, text=text, postoperative=postop)
    if not rules:
        return None
    rule, vocabulary = rules[0], load_rules().conditions
    return out.GuidelineOut(
        rule=rule.id,
        title=rule.title,
        family=rule.family,
        citation=f"{rule.citation.regulation}, {rule.citation.section}",
        recommendation=str(rule.recommendation),
        criteria=[
            out.CriterionOut(id=c.id, role=str(c.role), description=vocabulary[c.id].description)
            for c in rule.conditions
        ],
    )


def governing_guideline(item: ItemRow) -> out.GuidelineOut | None:
    """The best-fitting rule for the item's parsed request (MTUS first), or None."""
    request = item.request or {}
    drug = request.get("drug") or {}
    regions = request.get("body_regions") or [None]
    return _governing(
        item.category, drug.get("drug_class"), regions[0], item.item, bool(request.get("postoperative"))
    )


def case_document(case: CaseRow) -> dict[str, Any]:
    """The case as ``case.schema.json`` (what decision support reads)."""
    return {
        "case_number": case.case_number,
        "priority": case.priority,
        "application_received": case.application_received.isoformat(),
        "date_of_injury": case.date_of_injury.isoformat() if case.date_of_injury else None,
        "ur_denial_date": case.ur_decision_date.isoformat(),
        "claimant": {"age": case.claimant_age, "sex": case.claimant_sex},
        "clinical_summary": case.clinical_summary,
        "disputed_items": [
            {
                "item": i.item,
                "claims_administrator_guideline": i.claims_administrator_guideline,
                "original_request": i.original_request,
                "authorized": i.authorized,
            }
            for i in case.items
        ],
    }


_CASE_LOAD = (
    selectinload(CaseRow.items).selectinload(ItemRow.decision),
    selectinload(CaseRow.parties),
    selectinload(CaseRow.documents),
    selectinload(CaseRow.assignment).joinedload(AssignmentRow.reviewer),
    selectinload(CaseRow.letter),
)


class Desk:
    """The process at *url*, seen through accounts and roles."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_db_url()
        self.process = Process(self.url, actor="openimr-web")
        self.engine = self.process.engine
        self.sessions = self.process.sessions

    def close(self) -> None:
        self.process.close()

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """One transaction."""
        with self.sessions.begin() as s:
            yield s

    def acting(self, who: Principal) -> Process:
        """The process acting as *who* (same engine; the audit log names them)."""
        process = copy.copy(self.process)
        process.actor = who.username
        return process

    # Checks and the audit log ---------------------------------------------------------------

    @staticmethod
    def require(who: Principal, action: Action) -> None:
        if not who.can(action):
            role = who.role_name.lower()
            article = "an" if role[0] in "aeiou" else "a"
            raise Forbidden(f"{article} {role} may not {action.value.replace('_', ' ')}")

    @staticmethod
    def audit(
        s: Session, who: Principal, case: str | None, entity: str, key: str, action: str, **after
    ) -> None:
        record_audit(s, who.username, case, entity, key, action, None, after or None)

    def _open(self, s: Session, who: Principal, number: str, action: Action, what: str = "case") -> CaseRow:
        """The case, loaded whole, if *who* may do *action* on it; audits the access (or refusal)."""
        self.require(who, action)
        case = s.scalar(select(CaseRow).where(CaseRow.case_number == number).options(*_CASE_LOAD))
        if case is None:
            raise NotFound(f"no case {number}")
        if who.role == "reviewer" and (
            case.assignment is None or case.assignment.reviewer.code != who.reviewer_code
        ):
            with self.tx() as other:  # the refusal is kept although this transaction is rolled back
                self.audit(other, who, number, what, number, "denied", wanted=action.value)
            raise Forbidden(f"case {number} is not assigned to you")
        return case

    # Cases ----------------------------------------------------------------------------------

    def list_cases(
        self,
        who: Principal,
        today: dt.date,
        status: Status | None = None,
        wanted: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> out.CasePage:
        """Cases by due date (a reviewer's own only), with standing; the listing is audited."""
        self.require(who, Action.LIST_CASES)
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
        if who.role == "reviewer":
            query = query.where(ReviewerRow.code == who.reviewer_code)
        if status:
            query = query.where(CaseRow.status == status)
        if wanted:
            query = query.where(CaseRow.status.in_(OPEN))
        ordered = query.order_by(CaseRow.due_date, CaseRow.case_number)
        with self.tx() as s:
            if wanted:  # standing is computed, not stored: filter, then page
                rows = [
                    r
                    for r in s.execute(ordered)
                    if standing(r.status, r.timeframe, r.application_received, r.due_date, today) == wanted
                ]
                total, rows = len(rows), rows[offset : offset + limit]
            else:
                total = _count(s, query)
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
            self.audit(s, who, None, "case_list", who.username, "read", cases=[c.case_number for c in lines])
        return out.CasePage(items=lines, total=total, limit=limit, offset=offset)

    def case(self, who: Principal, number: str, today: dt.date) -> out.CaseOut:
        """The case in full (claimant details redacted unless *who* may see them); audited."""
        with self.tx() as s:
            case = self._open(s, who, number, Action.READ_CASE)
            self.audit(s, who, number, "case", number, "read")
            return self._case_out(case, who, today)

    def _case_out(self, case: CaseRow, who: Principal, today: dt.date) -> out.CaseOut:
        full = who.can(Action.SEE_CLAIMANT)
        assignment = None
        if case.assignment:
            why = case.assignment.explanation
            assignment = out.AssignmentOut(
                reviewer=case.assignment.reviewer.code,
                reviewer_name=case.assignment.reviewer.name,
                assigned_on=case.assignment.assigned_on,
                why=why.get("why", []),
                others=why.get("others", {}),
            )
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
            eligibility=case.eligibility,
            condition_specialty=case.condition_specialty,
            redacted=not full,
            date_of_injury=case.date_of_injury if full else None,
            claimant=Claimant(age=case.claimant_age, sex=case.claimant_sex) if full else None,
            clinical_summary=case.clinical_summary if full else None,
            parties=[out.PartyOut(role=p.role, name=p.name, specialty=p.specialty) for p in case.parties]
            if full
            else None,
            documents=[self._document_out(d) for d in case.documents] if full else None,
            items=[self._item_out(i) for i in case.items],
            assignment=assignment,
            letter_issued=case.letter is not None,
        )

    @staticmethod
    def _document_out(d: DocumentRow) -> out.DocumentOut:
        return out.DocumentOut(
            id=d.id, name=d.name, doc_type=d.doc_type, received=d.received, sha256=d.sha256
        )

    @staticmethod
    def _item_out(i: ItemRow) -> out.ItemOut:
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
            guideline=governing_guideline(i),
            eligible=i.eligible,
            eligibility_reason=i.eligibility_reason,
            version=i.version,
            decision=decision,
        )

    def items(self, who: Principal, number: str) -> list[out.ItemOut]:
        with self.tx() as s:
            case = self._open(s, who, number, Action.READ_CASE)
            self.audit(s, who, number, "items", number, "read")
            return [self._item_out(i) for i in case.items]

    def create_case(
        self, who: Principal, case: CaseIn, files: dict[str, bytes] | None = None
    ) -> out.CaseCreated:
        """Take a case in; *files* (name → bytes) become its first documents."""
        self.require(who, Action.CREATE_CASE)
        if case.documents:
            raise ProcessError("send documents as uploads (POST /api/cases/{case}/documents), not paths")
        number, created = self.acting(who).create_case(case)
        for name, content in (files or {}).items():
            self.upload(who, number, name, content, "medical_records", case.application_received)
        with self.tx() as s:
            status = s.scalar(select(CaseRow.status).where(CaseRow.case_number == number))
        return out.CaseCreated(case_number=number, created=created, status=str(status))

    # Documents ------------------------------------------------------------------------------

    def documents(self, who: Principal, number: str) -> list[out.DocumentOut]:
        with self.tx() as s:
            case = self._open(s, who, number, Action.READ_DOCUMENT, "document")
            self.audit(s, who, number, "document", number, "list")
            return [self._document_out(d) for d in case.documents]

    def upload(
        self, who: Principal, number: str, name: str, content: bytes, doc_type: str, received: dt.date
    ) -> out.DocumentOut:
        """Add a document to the case record (stored once by content); the same file again is a no-op."""
        name = Path(name).name or "document"
        with self.tx() as s:
            case = self._open(s, who, number, Action.UPLOAD_DOCUMENT, "document")
            sha = hashlib.sha256(content).hexdigest()
            existing = next((d for d in case.documents if d.sha256 == sha), None)
            if existing:
                return self._document_out(existing)
            if s.get(BlobRow, sha) is None:
                s.add(BlobRow(sha256=sha, size=len(content), content=content))
            doc = DocumentRow(sha256=sha, name=name[:255], doc_type=doc_type, received=received)
            case.documents.append(doc)
            s.flush()
            self.audit(s, who, number, "document", f"{number}/{doc.id}", "upload", name=doc.name, sha256=sha)
            return self._document_out(doc)

    def document(self, who: Principal, number: str, doc_id: int) -> tuple[str, str, bytes]:
        """(file name, media type, bytes) of one document of the case; audited."""
        with self.tx() as s:
            case = self._open(s, who, number, Action.READ_DOCUMENT, "document")
            doc = next((d for d in case.documents if d.id == doc_id), None)
            if doc is None:
                raise NotFound(f"case {number} has no document {doc_id}")
            blob = s.get(BlobRow, doc.sha256)
            assert blob is not None  # a foreign key
            self.audit(s, who, number, "document", f"{number}/{doc_id}", "download", name=doc.name)
            kind = mimetypes.guess_type(doc.name)[0] or "application/octet-stream"
            return doc.name, kind, blob.content

    # Assignment, decisions, letters ---------------------------------------------------------

    def assign(self, who: Principal, numbers: list[str] | None, today: dt.date) -> list[out.OutcomeOut]:
        self.require(who, Action.ASSIGN)
        return [
            out.OutcomeOut(case_number=o.case_number, reviewer=o.reviewer, why=o.reasons, others=o.others)
            for o in self.acting(who).assign(numbers, today)
        ]

    def decide(self, who: Principal, number: str, position: int, body: out.DecisionIn) -> out.DecisionResult:
        with self.tx() as s:
            case = self._open(s, who, number, Action.DECIDE)
            if all(i.position != position for i in case.items):
                raise NotFound(f"case {number} has no item {position}")
        version = self.acting(who).decide(
            number,
            position,
            body.decision,
            body.guideline,
            body.rationale,
            body.evidence_level,
            body.expected_version,
        )
        with self.tx() as s:
            status = s.scalar(select(CaseRow.status).where(CaseRow.case_number == number))
        return out.DecisionResult(case_number=number, position=position, version=version, status=str(status))

    def recommendations(self, who: Principal, number: str) -> dict[str, Any]:
        """Decision support's review of the case (review.schema.json)."""
        with self.tx() as s:
            case = self._open(s, who, number, Action.READ_RECOMMENDATIONS)
            document = case_document(case)
        review = decision_support()
        if review is None:
            raise Unavailable(UNAVAILABLE)
        try:
            result = review(document, store=self.url)
        except Exception as exc:  # a plugin's failure is reported, never a server error
            raise Unavailable(f"decision support failed on case {number}: {exc}") from exc
        with self.tx() as s:
            self.audit(s, who, number, "recommendations", number, "read")
        return result

    def issue(self, who: Principal, number: str, today: dt.date) -> Letter:
        self.require(who, Action.ISSUE_LETTER)
        letter, _ = self.acting(who).issue(number, today)
        return letter

    def letter(self, who: Principal, number: str, today: dt.date) -> tuple[Letter, bool]:
        """The issued letter (True), else a draft from the decisions so far (False); audited."""
        with self.tx() as s:
            case = self._open(s, who, number, Action.READ_LETTER, "letter")
            self.audit(s, who, number, "letter", number, "read")
            if case.letter is not None:
                return Letter.model_validate(case.letter.record), True
            if case.assignment is None or not any(i.decision for i in case.items):
                raise NotFound(f"case {number} has no decision yet, so no letter")
            return Process.letter_record(case, today), False  # the same construction as issuing

    def rendered(self, who: Principal, number: str, fmt: Format, today: dt.date) -> str | bytes:
        """The issued letter as HTML or PDF (a PDF only once issued)."""
        letter, issued = self.letter(who, number, today)
        if fmt == "pdf" and not issued:
            raise NotFound(f"the letter of {number} is not issued yet: only its HTML preview exists")
        return render(letter, fmt)

    def withdraw(self, who: Principal, number: str, reason: str) -> str:
        self.require(who, Action.WITHDRAW)
        self.acting(who).withdraw(number, reason)
        return Status.WITHDRAWN

    def audit_log(self, who: Principal, number: str, limit: int, offset: int) -> out.AuditPage:
        with self.tx() as s:
            self._open(s, who, number, Action.READ_AUDIT, "audit")
            self.audit(s, who, number, "audit", number, "read")
            query = select(AuditRow).where(AuditRow.case_number == number)
            total = _count(s, query)
            rows = s.scalars(query.order_by(AuditRow.id).limit(limit).offset(offset))
            items = [
                out.AuditOut(
                    id=r.id,
                    at=r.at,
                    actor=r.actor,
                    entity=r.entity,
                    key=r.entity_key,
                    action=r.action,
                    before=r.before,
                    after=r.after,
                )
                for r in rows
            ]
        return out.AuditPage(items=items, total=total, limit=limit, offset=offset)

    # Reviewers ------------------------------------------------------------------------------

    def reviewers(self, who: Principal, limit: int, offset: int) -> out.ReviewerPage:
        self.require(who, Action.READ_REVIEWERS)
        with self.tx() as s:
            total = s.scalar(select(func.count()).select_from(ReviewerRow)) or 0
            busy = open_assignments(s)
            rows = s.scalars(select(ReviewerRow).order_by(ReviewerRow.code).limit(limit).offset(offset))
            items = [
                out.ReviewerOut(
                    code=r.code,
                    name=r.name,
                    specialties=r.specialties,
                    licenses=r.licenses,
                    active_practice_since=r.active_practice_since,
                    weekly_clinical_hours=r.weekly_clinical_hours,
                    capacity=r.capacity,
                    open_cases=busy.get(r.id, 0),
                )
                for r in rows
            ]
        return out.ReviewerPage(items=items, total=total, limit=limit, offset=offset)

    def import_reviewers(self, who: Principal, roster: list[ReviewerIn]) -> out.ImportCounts:
        self.require(who, Action.WRITE_REVIEWERS)
        return out.ImportCounts(**self.acting(who).import_reviewers(roster))
