"""The letter tables: one row per letter, its issues and its reviewer's credentials in order.

A letter's ``key`` is its case number, else ``sha256:<hash of the source file>``; it makes
ingestion idempotent. ``store.ingest.store_letter`` writes a :class:`~openimr.core.models.Letter`
and :meth:`LetterRow.to_letter` reads it back exactly.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from openimr.core.models import Claimant, Issue, Letter, Reviewer
from openimr.store.base import Base

HASH_PREFIX = "sha256:"


def letter_key(letter: Letter, source_hash: str) -> str:
    """The store key of *letter*: its case number, else the hash of its source."""
    return letter.case_number or f"{HASH_PREFIX}{source_hash}"


class LetterRow(Base):
    """An IMR Final Determination letter."""

    __tablename__ = "letters"
    __table_args__ = (
        CheckConstraint("priority IN ('Standard', 'Expedited')", name="priority"),
        CheckConstraint("claimant_sex IN ('male', 'female')", name="claimant_sex"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String, unique=True)
    file: Mapped[str] = mapped_column(String)
    source_hash: Mapped[str] = mapped_column(String(64), index=True)
    case_number: Mapped[str | None] = mapped_column(String, index=True)
    date_assigned: Mapped[dt.date | None] = mapped_column(Date)
    date_of_injury: Mapped[dt.date | None] = mapped_column(Date)
    decision_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    ur_denial_date: Mapped[dt.date | None] = mapped_column(Date)
    application_received: Mapped[dt.date | None] = mapped_column(Date)
    priority: Mapped[str | None] = mapped_column(String(16))
    claimant_age: Mapped[int | None] = mapped_column(Integer)
    claimant_sex: Mapped[str | None] = mapped_column(String(8))
    clinical_summary: Mapped[str | None] = mapped_column(Text)
    ingested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    issues: Mapped[list[IssueRow]] = relationship(
        back_populates="letter", order_by="IssueRow.position", cascade="all, delete-orphan"
    )
    license_states: Mapped[list[LicenseStateRow]] = relationship(
        order_by="LicenseStateRow.position", cascade="all, delete-orphan"
    )
    specialties: Mapped[list[SpecialtyRow]] = relationship(
        order_by="SpecialtyRow.position", cascade="all, delete-orphan"
    )

    def to_letter(self) -> Letter:
        """The stored letter as a :class:`~openimr.core.models.Letter`."""
        return Letter(
            file=self.file,
            case_number=self.case_number,
            date_assigned=self.date_assigned,
            date_of_injury=self.date_of_injury,
            decision_date=self.decision_date,
            ur_denial_date=self.ur_denial_date,
            application_received=self.application_received,
            priority=self.priority,
            reviewer=Reviewer(
                license_states=[row.state for row in self.license_states],
                specialties=[row.specialty for row in self.specialties],
            ),
            claimant=Claimant(age=self.claimant_age, sex=self.claimant_sex),
            clinical_summary=self.clinical_summary,
            issues=[row.to_issue() for row in self.issues],
        )


class IssueRow(Base):
    """One disputed item of a letter and its decision."""

    __tablename__ = "letter_issues"
    __table_args__ = (CheckConstraint("decision IN ('Upheld', 'Overturned')", name="decision"),)

    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    item: Mapped[str] = mapped_column(Text)
    original_request: Mapped[str | None] = mapped_column(Text)
    authorized: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(String(16), index=True)
    claims_administrator_guideline: Mapped[str | None] = mapped_column(Text)
    imro_guideline: Mapped[str | None] = mapped_column(Text)
    rationale: Mapped[str | None] = mapped_column(Text)

    letter: Mapped[LetterRow] = relationship(back_populates="issues")

    def to_issue(self) -> Issue:
        """The stored issue as an :class:`~openimr.core.models.Issue`."""
        return Issue(
            item=self.item,
            original_request=self.original_request,
            authorized=self.authorized,
            decision=self.decision,
            claims_administrator_guideline=self.claims_administrator_guideline,
            imro_guideline=self.imro_guideline,
            rationale=self.rationale,
        )


class LicenseStateRow(Base):
    """A state the letter's reviewer is licensed in, in the letter's order."""

    __tablename__ = "letter_license_states"

    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String)


class SpecialtyRow(Base):
    """A certification/specialty of the letter's reviewer, in the letter's order."""

    __tablename__ = "letter_specialties"

    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    specialty: Mapped[str] = mapped_column(String, index=True)
