"""The process tables: cases and their parties, items, documents, reviewers, assignments,
decisions, issued letters and the audit log (revision ``0002_process``).

Issued letters and the audit log are append-only: the ORM refuses to update or delete them here,
and database triggers (see the migration) refuse it to anyone else. ``cases.version`` guards
status changes and ``disputed_items.version`` (the number of decisions made on the item) guards
decisions, so concurrent writers cannot silently overwrite one another.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from openimr.store.base import Base, utc_now

DECISIONS = ("Upheld", "Overturned")
# Labor Code 4610.5(c)(2): the standards of medical necessity, in the order they must be applied.
EVIDENCE_LEVELS = {
    "A": "MTUS guidelines adopted by the administrative director",
    "B": "peer-reviewed scientific and medical evidence",
    "C": "nationally recognized professional standards",
    "D": "expert opinion",
    "E": "generally accepted standards of medical practice",
    "F": "treatments likely to benefit where other treatments are not clinically efficacious",
}


class CaseRow(Base):
    """An IMR case: the application, its dates and priority, its status and due date."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_number: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    priority: Mapped[str] = mapped_column(String(16))
    formulary_dispute: Mapped[bool] = mapped_column(Boolean, default=False)
    application_received: Mapped[dt.date] = mapped_column(Date)
    documents_received: Mapped[dt.date | None] = mapped_column(Date)
    date_of_injury: Mapped[dt.date | None] = mapped_column(Date)
    ur_decision_date: Mapped[dt.date] = mapped_column(Date)
    ur_decision_served: Mapped[dt.date | None] = mapped_column(Date)
    claimant_age: Mapped[int | None] = mapped_column(Integer)
    claimant_sex: Mapped[str | None] = mapped_column(String(8))
    condition_specialty: Mapped[str | None] = mapped_column(String(80))
    clinical_summary: Mapped[str] = mapped_column(Text)
    eligibility: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    timeframe: Mapped[str | None] = mapped_column(String(16))
    due_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    submitted: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    parties: Mapped[list[PartyRow]] = relationship(cascade="all, delete-orphan", order_by="PartyRow.id")
    items: Mapped[list[ItemRow]] = relationship(cascade="all, delete-orphan", order_by="ItemRow.position")
    documents: Mapped[list[DocumentRow]] = relationship(cascade="all, delete-orphan")
    assignment: Mapped[AssignmentRow | None] = relationship(back_populates="case")
    letter: Mapped[IssuedLetterRow | None] = relationship()

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class PartyRow(Base):
    """A party to the dispute (employer, claims administrator, providers, UR organization...)."""

    __tablename__ = "case_parties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    specialty: Mapped[str | None] = mapped_column(String(80))


class ItemRow(Base):
    """A disputed item/service, its parsed request and whether it is eligible for review."""

    __tablename__ = "disputed_items"
    __table_args__ = (UniqueConstraint("case_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    item: Mapped[str] = mapped_column(Text)
    original_request: Mapped[str | None] = mapped_column(Text)
    authorized: Mapped[str | None] = mapped_column(Text)
    claims_administrator_guideline: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    eligible: Mapped[bool] = mapped_column(Boolean)
    eligibility_reason: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=0)

    decision: Mapped[DecisionRow | None] = relationship(back_populates="item")


class BlobRow(Base):
    """A document's bytes, stored once by content hash."""

    __tablename__ = "document_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class DocumentRow(Base):
    """A document of a case's record: its file (by hash), type and date received."""

    __tablename__ = "case_documents"
    __table_args__ = (UniqueConstraint("case_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(ForeignKey("document_blobs.sha256"))
    name: Mapped[str] = mapped_column(String(255))
    doc_type: Mapped[str] = mapped_column(String(40))
    received: Mapped[dt.date] = mapped_column(Date)


class ReviewerRow(Base):
    """An expert reviewer: licences, specialties, practice, affiliations and capacity."""

    __tablename__ = "reviewers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    licenses: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    specialties: Mapped[list[str]] = mapped_column(JSON)
    active_practice_since: Mapped[dt.date] = mapped_column(Date)
    weekly_clinical_hours: Mapped[float] = mapped_column(Float)
    affiliations: Mapped[list[str]] = mapped_column(JSON)
    capacity: Mapped[int] = mapped_column(Integer)


class AssignmentRow(Base):
    """The reviewer a case went to, when, and why (the assigner's explanation)."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"), index=True)
    assigned_on: Mapped[dt.date] = mapped_column(Date)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)

    case: Mapped[CaseRow] = relationship(back_populates="assignment")
    reviewer: Mapped[ReviewerRow] = relationship()


class DecisionRow(Base):
    """The decision on one disputed item, its guideline basis, evidence level and rationale."""

    __tablename__ = "item_decisions"
    __table_args__ = (
        CheckConstraint("decision IN ('Upheld', 'Overturned')", name="decision"),
        CheckConstraint(f"evidence_level IN ({', '.join(repr(k) for k in EVIDENCE_LEVELS)})", name="level"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("disputed_items.id", ondelete="CASCADE"), unique=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    decision: Mapped[str] = mapped_column(String(16))
    guideline: Mapped[str] = mapped_column(Text)
    evidence_level: Mapped[str] = mapped_column(String(1))
    rationale: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    item: Mapped[ItemRow] = relationship(back_populates="decision")
    reviewer: Mapped[ReviewerRow] = relationship()


class IssuedLetterRow(Base):
    """A Final Determination letter as issued: its record (letter.schema.json), frozen."""

    __tablename__ = "issued_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    issued_by: Mapped[str] = mapped_column(String(80))


class AuditRow(Base):
    """One change: who, when, what (entity, key, action), and the values before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, server_default=func.now()
    )
    actor: Mapped[str] = mapped_column(String(80))
    case_number: Mapped[str | None] = mapped_column(String(16), index=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_key: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ImmutableError(RuntimeError):
    """An attempt to change an issued letter or the audit log."""


def _refuse(kind: str):
    def listener(_mapper, _connection, target) -> None:
        raise ImmutableError(f"{kind} cannot be changed or deleted ({target.__tablename__} {target.id})")

    return listener


for _table, _kind in ((IssuedLetterRow, "an issued letter"), (AuditRow, "the audit log")):
    event.listen(_table, "before_update", _refuse(_kind))
    event.listen(_table, "before_delete", _refuse(_kind))
