"""Every table of the store, in one module: one metadata that Alembic's environment compares with
the database (``alembic revision --autogenerate`` proposes nothing on a migrated store).

Sections: the declarative base; letters; the review process; web accounts; the corpus index.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from openimr.core import bounds as b
from openimr.core.dates import utc_now
from openimr.core.errors import ImmutableError
from openimr.core.models import EVIDENCE_STANDARDS, Claimant, Issue, Letter, Reviewer
from openimr.core.roles import Role

# --- The declarative base every table of the store shares (one metadata, one Alembic history).

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of all ORM tables."""

    metadata = MetaData(naming_convention=NAMING)


# --- The letter tables: one row per letter, its issues and its reviewer's credentials in order.
#
# A letter's ``key`` is its case number, else ``sha256:<hash of the source file>``; it makes
# ingestion idempotent. ``store.ingest.store_letter`` writes a :class:`~openimr.core.models.Letter`
# and :meth:`LetterRow.to_letter` reads it back exactly.

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


# --- The process tables: cases and their parties, items, documents, reviewers, assignments,
# decisions, issued letters and the audit log (revision ``0002_process``).
#
# Issued letters and the audit log are append-only: the ORM refuses to update or delete them here,
# and database triggers (see the migration) refuse it to anyone else. ``cases.version`` guards
# status changes and ``disputed_items.version`` (the number of decisions made on the item) guards
# decisions, so concurrent writers cannot silently overwrite one another.

EVIDENCE_LEVELS = EVIDENCE_STANDARDS  # Labor Code 4610.5(c)(2), in the order they apply


class CaseRow(Base):
    """An IMR case: the application, its dates and priority, its status and due date."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_number: Mapped[str] = mapped_column(String(b.CASE_NUMBER), unique=True)
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
    condition_specialty: Mapped[str | None] = mapped_column(String(b.SPECIALTY))
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
    role: Mapped[str] = mapped_column(String(b.PARTY_ROLE))
    name: Mapped[str] = mapped_column(String(b.PARTY_NAME))
    specialty: Mapped[str | None] = mapped_column(String(b.SPECIALTY))


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
    category: Mapped[str] = mapped_column(String(b.CATEGORY))
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
    name: Mapped[str] = mapped_column(String(b.FILE_NAME_BYTES))
    doc_type: Mapped[str] = mapped_column(String(b.DOC_TYPE))
    received: Mapped[dt.date] = mapped_column(Date)


class ReviewerRow(Base):
    """An expert reviewer: licences, specialties, practice, affiliations and capacity."""

    __tablename__ = "reviewers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(b.REVIEWER_CODE), unique=True)
    name: Mapped[str] = mapped_column(String(b.REVIEWER_NAME))
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
        CheckConstraint(
            f"evidence_level IN ({', '.join(repr(k.value) for k in EVIDENCE_LEVELS)})", name="level"
        ),
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
    issued_by: Mapped[str] = mapped_column(String(b.USERNAME))


class AuditRow(Base):
    """One change: who, when, what (entity, key, action), and the values before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, server_default=func.now()
    )
    actor: Mapped[str] = mapped_column(String(b.USERNAME))
    case_number: Mapped[str | None] = mapped_column(String(b.CASE_NUMBER), index=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_key: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    @validates("actor", "case_number", "entity", "entity_key", "action")
    def _fit(self, key: str, value: str | None) -> str | None:
        """A value as its column holds it, whatever was asked for: NUL replaced, cut to length; a
        case number longer than any case's names no case (None; the entity key keeps what was
        asked), so that a refused request on it is recorded, not a database error."""
        if value is None:
            return None
        length = self.__table__.c[key].type.length
        if key == "case_number" and len(value) > length:
            return None
        return value.replace("\x00", "\ufffd")[:length]


def _refuse(kind: str):
    def listener(_mapper, _connection, target) -> None:
        raise ImmutableError(f"{kind} cannot be changed or deleted ({target.__tablename__} {target.id})")

    return listener


for _table, _kind in ((IssuedLetterRow, "an issued letter"), (AuditRow, "the audit log")):
    event.listen(_table, "before_update", _refuse(_kind))
    event.listen(_table, "before_delete", _refuse(_kind))


# --- The web tables: accounts, API tokens, sign-in sessions (revision ``0004_web``) and failed
# sign-ins (``0006_sign_in``, with the tokens' expiry, revocation and last use).
#
# Secrets are never stored: passwords as argon2 hashes, tokens and session ids as SHA-256 digests.

ROLES = tuple(Role)


class UserRow(Base):
    """An account: its role and, for a reviewer, the roster code of the reviewer it signs in as."""

    __tablename__ = "web_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(b.USERNAME), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    reviewer_code: Mapped[str | None] = mapped_column(String(b.REVIEWER_CODE))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class TokenRow(Base):
    """An API token (``Authorization: Bearer ...``), kept as the digest of its value."""

    __tablename__ = "web_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(b.TOKEN_NAME))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[UserRow] = relationship(lazy="joined")


class SessionRow(Base):
    """A browser sign-in: the digest of the cookie's value, its CSRF token and when it ends."""

    __tablename__ = "web_sessions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    user: Mapped[UserRow] = relationship(lazy="joined")


class SignInFailureRow(Base):
    """A wrong password (or unknown account): when, the username tried and the client's address.

    Rows older than the throttling window are pruned; a successful sign-in deletes its account's.
    """

    __tablename__ = "web_sign_in_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    username: Mapped[str] = mapped_column(String(b.USERNAME), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)


# --- The corpus tables (migration ``0003_corpus``) as SQLAlchemy Core tables.
#
# ``corpus_issues`` holds one row per stored issue with what search, statistics and similar-case
# look-ups filter on; ``corpus_docs`` one row per distinct document (item, rationale and clinical
# summary together), which the full-text index covers; ``corpus_body_parts`` the issue's body parts
# and their regions; ``corpus_embeddings`` one sentence embedding per distinct item text. The
# store's own full-text index is the FTS5 table ``corpus_doc_fts`` on SQLite (rowid =
# ``corpus_docs.id``) and the ``corpus_docs.search_vector`` column on PostgreSQL, created by the
# migrations only: SQL over the corpus and the search benchmark's baseline read it; search itself
# reads the tantivy index beside the store (``openimr.services.corpus.fulltext``).

corpus_docs = Table(
    "corpus_docs",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("doc_hash", String(64), nullable=False, unique=True),
    Column("text_hash", String(64), nullable=False),
)

corpus_issues = Table(
    "corpus_issues",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("letter_id", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("decision", String(16), nullable=False, index=True),
    Column("family", String, nullable=False, index=True),
    Column("year", Integer, index=True),
    Column("category", String(32), nullable=False, index=True),
    Column("drug_name", String),
    Column("drug_class", String, index=True),
    Column("sessions", Integer),
    Column("quantity", Float),
    Column("text_hash", String(64), nullable=False, index=True),
    Column("doc_id", ForeignKey("corpus_docs.id"), nullable=False, index=True),
    ForeignKeyConstraint(
        ["letter_id", "position"], ["letter_issues.letter_id", "letter_issues.position"], ondelete="CASCADE"
    ),
    UniqueConstraint("letter_id", "position"),
)

corpus_body_parts = Table(
    "corpus_body_parts",
    Base.metadata,
    Column("issue_id", ForeignKey("corpus_issues.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String, primary_key=True),
    Index("ix_corpus_body_parts_name", "name", "issue_id"),
)

corpus_embeddings = Table(
    "corpus_embeddings",
    Base.metadata,
    Column("text_hash", String(64), primary_key=True),
    Column("model", String, primary_key=True),
    Column("vector", LargeBinary, nullable=False),
)


# One row: the random id this store was given when its schema was made (migration 0007). The search
# indexes beside the store record it, and are built afresh for a store with another.
store_identity = Table("store_identity", Base.metadata, Column("store_id", String(32), primary_key=True))


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's filter: the full-text index lives outside the metadata (the FTS5 table
    ``corpus_doc_fts`` and its shadow tables on SQLite, ``corpus_docs.search_vector`` and its GIN
    index on PostgreSQL); the migrations create it by hand, so autogenerate leaves it alone."""
    name = name or ""
    if type_ == "table":
        return not name.startswith("corpus_doc_fts")
    if type_ == "column":
        return name != "search_vector"
    if type_ == "index":
        return not name.endswith("_search_vector")
    return True
