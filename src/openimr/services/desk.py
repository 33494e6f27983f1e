"""What the API and the pages do, for one signed-in account: the process's operations behind the
role checks, with every read and write of a case written to the process audit log.

Writes go through :class:`openimr.services.cases.Process` acting as the account (so the audit
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
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from openimr.core.models import Letter
from openimr.core.process.intake import CaseIn, ReviewerIn
from openimr.core.process.support import decision_support
from openimr.core.process.workflow import Status
from openimr.core.roles import Action, Principal
from openimr.services import schemas as out
from openimr.services import views
from openimr.services.cases import OPEN, NotFound, Process, ProcessError, open_assignments, record_audit
from openimr.services.render import Format, render
from openimr.services.views import standing
from openimr.store.db import default_db_url
from openimr.store.schema import (
    AssignmentRow,
    AuditRow,
    BlobRow,
    CaseRow,
    DocumentRow,
    ItemRow,
    ReviewerRow,
)

UNAVAILABLE = "decision support unavailable: no review engine is installed"


def _count(session: Session, query: Select) -> int:
    """How many rows *query* returns, counted by the database (for a paged listing's total)."""
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


class Forbidden(ProcessError):
    """The account may not do this (its role, or the case is not assigned to it)."""


class Unavailable(ProcessError):
    """A part of OpenIMR this needs is not installed."""


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

    def require(
        self, who: Principal, action: Action, number: str | None = None, what: str = "access"
    ) -> None:
        """Refuse (403) unless *who*'s role may do *action*; the refusal is written to the audit log."""
        if not who.can(action):
            self._refused(who, number, what, action)
            role = who.role_name.lower()
            article = "an" if role[0] in "aeiou" else "a"
            raise Forbidden(f"{article} {role} may not {action.value.replace('_', ' ')}")

    @staticmethod
    def audit(
        s: Session, who: Principal, case: str | None, entity: str, key: str, action: str, **after
    ) -> None:
        record_audit(s, who.username, case, entity, key, action, None, after or None)

    def _refused(self, who: Principal, number: str | None, what: str, action: Action) -> None:
        """Audit a refusal in a transaction of its own: it is kept although the request's is rolled back."""
        with self.tx() as s:
            self.audit(s, who, number, what, number or action.value, "denied", wanted=action.value)

    def _open(self, s: Session, who: Principal, number: str, action: Action, what: str = "case") -> CaseRow:
        """The case, loaded whole, if *who* may do *action* on it; a refusal is audited.

        A case that is not a reviewer's own answers exactly like a missing one (404), so that a
        reviewer cannot tell which case numbers exist.
        """
        self.require(who, action, number, what)
        case = s.scalar(select(CaseRow).where(CaseRow.case_number == number).options(*_CASE_LOAD))
        theirs = (
            case is None
            or who.role != "reviewer"
            or (case.assignment is not None and case.assignment.reviewer.code == who.reviewer_code)
        )
        if not theirs:
            self._refused(who, number, what, action)
            case = None
        if case is None:
            raise NotFound(f"no case {number}")
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
            return views.case_out(case, views.Lens.of(who), today)

    def items(self, who: Principal, number: str) -> list[out.ItemOut]:
        with self.tx() as s:
            case = self._open(s, who, number, Action.READ_CASE)
            self.audit(s, who, number, "items", number, "read")
            return [views.item_out(i) for i in case.items]

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

    _document_out = staticmethod(views.document_out)

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
        lens = views.Lens.of(who)
        return [views.outcome_out(o, lens) for o in self.acting(who).assign(numbers, today)]

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
            items = [views.reviewer_out(r, busy.get(r.id, 0)) for r in rows]
        return out.ReviewerPage(items=items, total=total, limit=limit, offset=offset)

    def import_reviewers(self, who: Principal, roster: list[ReviewerIn]) -> out.ImportCounts:
        self.require(who, Action.WRITE_REVIEWERS)
        return out.ImportCounts(**self.acting(who).import_reviewers(roster))
