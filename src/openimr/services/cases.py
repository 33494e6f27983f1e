"""The one case service: every operation on a case, for the account that acts in each call.

Each operation takes the acting :class:`~openimr.core.roles.Principal` (a signed-in account, or
:func:`operator` for the command line) and runs in one transaction on the :class:`Store` it was
given; it never changes the schema (the adapters open the store upgraded, at start-up).

:meth:`CaseService.require` is the one permission check, and :meth:`CaseService._open` the one
way to a case: it checks the action, answers a case that is not a reviewer's own exactly like a
missing one (404), writes every refusal to the audit log (in a transaction of its own, kept when
the request's is rolled back) and audits the read. Every change is audited as well, naming who.

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
import mimetypes
import re
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from openimr.core.case import Application, Party
from openimr.core.models import Claimant, Decision, EvidenceLevel, Issue, Letter, Reviewer
from openimr.core.process import assignment, deadlines, eligibility, support, workflow
from openimr.core.process.data import load
from openimr.core.process.roster import License, ReviewerIn
from openimr.core.process.support import decision_support
from openimr.core.process.workflow import Status
from openimr.core.review.engine import Review
from openimr.core.roles import Action, Principal, Role
from openimr.services import schemas as out
from openimr.services import views
from openimr.services.render import Format, render
from openimr.services.views import OPEN, Lens, standing
from openimr.store.db import Store
from openimr.store.schema import (
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

BUSY = (Status.ASSIGNED, Status.IN_REVIEW, Status.DECIDED)
UNAVAILABLE = "decision support unavailable: no review engine is installed"


class ProcessError(Exception):
    """An operation that cannot be done as asked; the message says why."""


class NotFound(ProcessError):
    """No such case, item, document or reviewer (or a case that is not the reader's to see)."""


class ConflictError(ProcessError):
    """Someone else changed the same thing first."""


class Forbidden(ProcessError):
    """The account may not do this (its role, or the case is not assigned to it)."""


class Unavailable(ProcessError):
    """A part of OpenIMR this needs is not installed."""


class _LostRace(Exception):
    """Internal: the compare-and-set on an item's version matched no row."""


@dataclass(frozen=True)
class Operator(Principal):
    """Someone at the command line. They hold the database itself, so every action is theirs and
    only their changes (not their reads) are audited, under their name."""

    def can(self, action: Action) -> bool:
        return True


def operator(name: str | None = None) -> Operator:
    """The command line's actor, named by ``--as`` (default: the login name) in the audit log."""
    return Operator(0, name or getpass.getuser(), Role.ADMIN, None, "command line")


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


def evidence_level(guideline: str, level: str | None) -> EvidenceLevel:
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


def _count(session: Session, query: Select) -> int:
    """How many rows *query* returns, counted by the database (for a paged listing's total)."""
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


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


def _assigned(case: CaseRow) -> AssignmentRow:
    """The case's assignment; a case past assignment without one is refused, not trusted."""
    if case.assignment is None:
        raise ProcessError(f"case {case.case_number} has no reviewer assigned")
    return case.assignment


_CASE_LOAD = (  # one-to-one rows joined, collections one query each: 4 round trips for a whole case
    selectinload(CaseRow.items).joinedload(ItemRow.decision),
    selectinload(CaseRow.parties),
    selectinload(CaseRow.documents),
    joinedload(CaseRow.assignment).joinedload(AssignmentRow.reviewer),
    joinedload(CaseRow.letter),
)


class CaseService:
    """The IMR process on *store*: intake, documents, roster, assignment, decisions, letters and the
    audit log, each operation for the account passed to it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        try:
            with self.store.transaction() as session:
                yield session
        except StaleDataError as exc:
            raise ConflictError("the case was changed by someone else meanwhile; read it again") from exc

    # The permission check and the audit log ---------------------------------------------------

    def require(
        self, who: Principal, action: Action, number: str | None = None, what: str = "access"
    ) -> None:
        """Refuse (403) unless *who*'s role may do *action*; the refusal is written to the audit log."""
        if not who.can(action):
            self._refused(who, number, what, action)
            role = who.role_name.lower()
            article = "an" if role[0] in "aeiou" else "a"
            raise Forbidden(f"{article} {role} may not {action.value.replace('_', ' ')}")

    def _refused(self, who: Principal, number: str | None, what: str, action: Action) -> None:
        """Audit a refusal in a transaction of its own: it is kept although the request's is rolled back."""
        with self._tx() as s:
            self._audit(
                s, who, number, what, number or action.value, "denied", after={"wanted": action.value}
            )

    @staticmethod
    def _audit(
        s: Session,
        who: Principal,
        number: str | None,
        entity: str,
        key: str,
        action: str,
        before: dict | None = None,
        after: dict | None = None,
    ) -> None:
        record_audit(s, who.username, number, entity, key, action, before, after)

    def _read(
        self,
        s: Session,
        who: Principal,
        number: str | None,
        entity: str,
        key: str,
        action: str = "read",
        **after: Any,
    ) -> None:
        """Audit a read (or a listing): every account's is, the command line's is not."""
        if not isinstance(who, Operator):
            self._audit(s, who, number, entity, key, action, after=after or None)

    @staticmethod
    def _case(s: Session, number: str) -> CaseRow:
        case = s.scalar(select(CaseRow).where(CaseRow.case_number == number).options(*_CASE_LOAD))
        if case is None:
            raise NotFound(f"no case {number}")
        return case

    def _open(
        self,
        s: Session,
        who: Principal,
        number: str,
        action: Action,
        what: str = "case",
        read: str | None = "read",
    ) -> CaseRow:
        """The case, loaded whole, if *who* may do *action* on it; its *read* is audited (None: the
        operation audits its own change). A refusal is audited, and a case that is not a
        reviewer's own answers exactly like a missing one (404), so that a reviewer cannot tell
        which case numbers exist."""
        self.require(who, action, number, what)
        case = self._case(s, number)
        if who.role == Role.REVIEWER and (
            case.assignment is None or case.assignment.reviewer.code != who.reviewer_code
        ):
            self._refused(who, number, what, action)
            raise NotFound(f"no case {number}")
        if read:
            self._read(s, who, number, what, number, action=read)
        return case

    def _move(self, s: Session, who: Principal, case: CaseRow, target: Status) -> None:
        before = case.status
        case.status = workflow.check(before, target)
        s.flush()
        self._audit(
            s,
            who,
            case.case_number,
            "case",
            case.case_number,
            "transition",
            {"status": before},
            {"status": target},
        )

    # Cases ------------------------------------------------------------------------------------

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
            return views.case_out(self._open(s, who, number, Action.READ_CASE), Lens.of(who), today)

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
                self._store_document(s, row, doc.path, contents[doc.path], doc.type, doc.received)
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

    # Documents --------------------------------------------------------------------------------

    @staticmethod
    def _store_document(
        s: Session, case: CaseRow, name: str, content: bytes, doc_type: str, received: dt.date
    ) -> tuple[DocumentRow, bool]:
        """Add a document to the case record, its bytes stored once by content; (the document,
        whether it is new): the same file again is the one already there."""
        sha = hashlib.sha256(content).hexdigest()
        existing = next((d for d in case.documents if d.sha256 == sha), None)
        if existing is not None:
            return existing, False
        if s.get(BlobRow, sha) is None:
            s.add(BlobRow(sha256=sha, size=len(content), content=content))
        doc = DocumentRow(
            sha256=sha, name=(Path(name).name or "document")[:255], doc_type=doc_type, received=received
        )
        case.documents.append(doc)
        s.flush()
        return doc, True

    def documents(self, who: Principal, number: str) -> list[out.DocumentOut]:
        """The case's documents; the listing is audited."""
        with self._tx() as s:
            case = self._open(s, who, number, Action.READ_DOCUMENT, "document", read="list")
            return [views.document_out(d) for d in case.documents]

    def upload(
        self, who: Principal, number: str, name: str, content: bytes, doc_type: str, received: dt.date
    ) -> out.DocumentOut:
        """Add a document to the case record (stored once by content); the same file again is a no-op."""
        with self._tx() as s:
            case = self._open(s, who, number, Action.UPLOAD_DOCUMENT, "document", read=None)
            doc, new = self._store_document(s, case, name, content, doc_type, received)
            if new:
                after = {"name": doc.name, "sha256": doc.sha256}
                self._audit(s, who, number, "document", f"{number}/{doc.id}", "upload", after=after)
            return views.document_out(doc)

    def document(self, who: Principal, number: str, doc_id: int) -> tuple[str, str, bytes]:
        """(file name, media type, bytes) of one document of the case; audited."""
        with self._tx() as s:
            case = self._open(s, who, number, Action.READ_DOCUMENT, "document", read=None)
            doc = next((d for d in case.documents if d.id == doc_id), None)
            if doc is None:
                raise NotFound(f"case {number} has no document {doc_id}")
            content = s.scalar(select(BlobRow.content).where(BlobRow.sha256 == doc.sha256))
            if content is None:
                raise NotFound(f"the stored file of document {doc_id} of case {number} is missing")
            self._read(s, who, number, "document", f"{number}/{doc_id}", action="download", name=doc.name)
            kind = mimetypes.guess_type(doc.name)[0] or "application/octet-stream"
            return doc.name, kind, content

    # Reviewers and assignment -----------------------------------------------------------------

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
        reviewer); the assignment is replaced, and the change audited. A reviewer who may not take
        the case, or nobody left to take it, is an outcome without a reviewer and changes nothing."""
        self.require(who, Action.ASSIGN, number, "assignment")
        with self._tx() as s:
            case = self._case(s, number)
            current = case.assignment
            if current is None or case.status not in (Status.ASSIGNED, Status.IN_REVIEW):
                raise ProcessError(f"case {number} is {case.status}: only an assigned case can be reassigned")
            if any(i.decision for i in case.items):
                held = current.reviewer.code
                raise ProcessError(f"case {number} has decisions already: it stays with {held}")
            rows, roster = _roster(s)
            need = _need(case, today)
            others = [c for c in roster if c.code != current.reviewer.code]
            if reviewer is not None:
                others = [c for c in others if c.code == reviewer]
                if not others:
                    raise NotFound(f"no other reviewer {reviewer} on the roster")
            outcome = assignment.assign([need], others, today)[0]
            if outcome.reviewer is not None:
                before = snapshot(current, "assigned_on", "explanation") | {"reviewer": current.reviewer.code}
                current.reviewer = next(r for r in rows if r.code == outcome.reviewer)
                current.assigned_on = today
                current.explanation = outcome.as_dict()
                self._audit(s, who, number, "assignment", number, "reassign", before, outcome.as_dict())
        return views.outcome_out(outcome, Lens.of(who))

    def qualified(self, who: Principal, number: str, today: dt.date) -> dict[str, str]:
        """Code -> name of each reviewer other than the assigned one who may take the case now."""
        self.require(who, Action.ASSIGN, number, "assignment")
        with self._tx() as s:
            case = self._case(s, number)
            _, roster = _roster(s)
            need = _need(case, today)
            mine = case.assignment.reviewer.code if case.assignment else None
            return {
                c.code: c.name
                for c in roster
                if c.code != mine and c.open_cases < c.capacity and not assignment.exclusions(c, need, today)
            }

    # Decisions --------------------------------------------------------------------------------

    def decide(
        self,
        who: Principal,
        number: str,
        position: int,
        decision: str,
        guideline: str,
        rationale: str,
        level: str | None = None,
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
        if not guideline.strip() or not rationale.strip():
            raise ProcessError("a decision needs its guideline basis and its rationale")
        attempt = {
            "decision": verdict,
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
        reviewer = _assigned(case).reviewer
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

    def recommendations(self, who: Principal, number: str) -> Review:
        """Decision support's review of the case (review.schema.json), typed; audited once it answers.
        A plugin that fails, or answers with a review that is not one, is :class:`Unavailable`."""
        with self._tx() as s:
            document = case_document(self._open(s, who, number, Action.READ_RECOMMENDATIONS, read=None))
        review = decision_support()
        if review is None:
            raise Unavailable(UNAVAILABLE)
        try:
            result = review(document, store=self.store.url)
        except Exception as exc:  # a plugin's failure is reported, never a server error
            raise Unavailable(f"decision support failed on case {number}: {exc}") from exc
        try:
            typed = Review.model_validate(result)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the review"
            more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
            raise Unavailable(
                f"decision support gave case {number} a malformed review: {where}: {first['msg']}{more}"
            ) from exc
        with self._tx() as s:
            self._read(s, who, number, "recommendations", number)
        return typed

    # Letters ----------------------------------------------------------------------------------

    def issue(self, who: Principal, number: str, today: dt.date) -> tuple[Letter, bool]:
        """Freeze the case's Final Determination letter; returns it and whether it is new.

        Issuing and deciding serialize on the case row: issuing locks it before it reads the
        decisions, and every decision changes it (its version) in the decision's own transaction, so
        a decision racing the issue either lands before the letter is built (and is in it) or fails
        once the letter is issued.
        """
        self.require(who, Action.ISSUE_LETTER, number, "letter")  # a refusal is audited before the lock
        with self._tx() as s:
            s.execute(  # takes the case row's lock (PostgreSQL) or the write lock (SQLite) first
                update(CaseRow)
                .where(CaseRow.case_number == number)
                .values(version=CaseRow.version)
                .execution_options(synchronize_session=False)
            )
            case = self._open(s, who, number, Action.ISSUE_LETTER, "letter", read=None)
            if case.letter is not None:
                return Letter.model_validate(case.letter.record), False
            workflow.check(case.status, Status.LETTER_ISSUED)
            letter = self.letter_record(case, today)
            record = letter.to_json_dict()
            digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
            case.letter = IssuedLetterRow(
                case_id=case.id, record=record, sha256=digest, issued_by=who.username
            )
            s.flush()
            self._audit(s, who, number, "letter", number, "issue", None, {"sha256": digest})
            self._move(s, who, case, Status.LETTER_ISSUED)
            return letter, True

    @staticmethod
    def letter_record(case: CaseRow, today: dt.date) -> Letter:
        """The Final Determination letter record of a decided case, as issuing builds it."""
        assigned = _assigned(case)
        reviewer = assigned.reviewer
        good_standing = load("specialties")["qualification"]["good_standing"]
        states = [
            lic.state
            for lic in (License(**x) for x in reviewer.licenses)
            if lic.in_good_standing(today, good_standing)
        ]
        return Letter(
            file=case.case_number,
            case_number=case.case_number,
            date_assigned=assigned.assigned_on,
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

    def letter(self, who: Principal, number: str, today: dt.date) -> tuple[Letter, bool]:
        """The issued letter (True), else a draft from the decisions so far (False); audited."""
        with self._tx() as s:
            case = self._open(s, who, number, Action.READ_LETTER, "letter")
            if case.letter is not None:
                return Letter.model_validate(case.letter.record), True
            if case.assignment is None or not any(i.decision for i in case.items):
                raise NotFound(f"case {number} has no decision yet, so no letter")
            return self.letter_record(case, today), False  # the same construction as issuing

    def rendered(self, who: Principal, number: str, fmt: Format, today: dt.date) -> str | bytes:
        """The letter as HTML (a draft until issued) or PDF (only once issued)."""
        letter, issued = self.letter(who, number, today)
        if fmt == "pdf" and not issued:
            raise NotFound(f"the letter of {number} is not issued yet: only its HTML preview exists")
        return render(letter, fmt)

    def notice(self, who: Principal, number: str) -> str:
        """The ineligibility notice of an ineligible case; audited."""
        with self._tx() as s:
            case = self._open(s, who, number, Action.READ_LETTER, "notice")
            if case.status != Status.INELIGIBLE:
                raise ProcessError(f"case {number} is {case.status}, not ineligible")
            return eligibility.notice(number, case.eligibility or {})

    def withdraw(self, who: Principal, number: str, reason: str) -> Status:
        """Close an open case without a determination (e.g. the treatment was authorized)."""
        with self._tx() as s:
            case = self._open(s, who, number, Action.WITHDRAW, read=None)
            if case.status != Status.WITHDRAWN:
                self._move(s, who, case, Status.WITHDRAWN)
                self._audit(s, who, number, "case", number, "withdraw", None, {"reason": reason})
        return Status.WITHDRAWN

    # The audit log ----------------------------------------------------------------------------

    def audit_log(
        self,
        who: Principal,
        number: str | None,
        limit: int | None = None,
        offset: int = 0,
        actor: str | None = None,
        action: str | None = None,
    ) -> out.AuditPage:
        """Every read and change of the case (None: of the whole site), oldest first, only those by
        *actor* and of *action* if given; this read too is audited."""
        with self._tx() as s:
            if number is None:
                self.require(who, Action.READ_AUDIT, None, "audit")
                self._read(s, who, None, "audit", "all")
                query = select(AuditRow)
            else:
                self._open(s, who, number, Action.READ_AUDIT, "audit")
                query = select(AuditRow).where(AuditRow.case_number == number)
            if actor:
                query = query.where(AuditRow.actor == actor)
            if action:
                query = query.where(AuditRow.action == action)
            total = _count(s, query)
            rows = s.scalars(query.order_by(AuditRow.id).limit(limit).offset(offset))
            items = [
                out.AuditOut(
                    id=r.id,
                    at=r.at,
                    actor=r.actor,
                    case_number=r.case_number,
                    entity=r.entity,
                    key=r.entity_key,
                    action=r.action,
                    before=r.before,
                    after=r.after,
                )
                for r in rows
            ]
        return out.AuditPage(items=items, total=total, limit=total if limit is None else limit, offset=offset)
