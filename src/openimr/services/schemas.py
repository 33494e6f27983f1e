"""The API's request and response bodies (they make up the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from openimr.core import bounds as b
from openimr.core.models import Claimant
from openimr.core.process.roster import ReviewerIn


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# A moment in time, always with its zone: the store keeps UTC, and SQLite hands it back without one.
Moment = Annotated[dt.datetime, AfterValidator(_utc)]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(_Out):
    """Every error: a short code, a sentence saying what went wrong, and field problems if any."""

    error: str
    message: str
    detail: list[dict[str, Any]] | None = None


class CaseLine(_Out):
    """A case in a list: status, deadline and standing against it, reviewer."""

    case_number: str
    status: str
    priority: str
    timeframe: str | None
    due_date: dt.date | None
    standing: Literal["overdue", "at_risk", "on_time"] | None
    reviewer: str | None
    items: int


class CasePage(_Out):
    items: list[CaseLine]
    total: int
    limit: int
    offset: int


class PartyOut(_Out):
    role: str
    name: str
    specialty: str | None


class DocumentOut(_Out):
    id: int
    name: str
    doc_type: str
    received: dt.date
    sha256: str


class DecisionOut(_Out):
    decision: str
    guideline: str
    evidence_level: str
    rationale: str
    reviewer: str
    decided_at: Moment


class ItemOut(_Out):
    position: int
    item: str
    original_request: str | None
    authorized: str | None
    claims_administrator_guideline: str | None
    category: str
    request: dict[str, Any] | None
    eligible: bool
    eligibility_reason: str
    version: int
    decision: DecisionOut | None


class FindingOut(_Out):
    """An eligibility rule applied to the case, its reason worded for the reader."""

    rule: str
    passed: bool
    reason: str
    citation: str
    verified: bool


class EligibilityOut(_Out):
    eligible: bool
    findings: list[FindingOut]
    items: list[FindingOut]


class AssignmentOut(_Out):
    """Why the reviewer, and why not each other reviewer by code (empty for a reviewer reading it)."""

    reviewer: str
    reviewer_name: str
    assigned_on: dt.date
    why: list[str]
    others: dict[str, str]


class WithdrawalOut(_Out):
    """Who withdrew a case, when, and why (null: the reason is not shown to this reader)."""

    by: str
    at: Moment
    reason: str | None


class CaseOut(_Out):
    """A case in full. For an analyst every claimant detail is null (``redacted`` true), and every
    reason names a claimant or party fact instead of giving it."""

    case_number: str
    status: str
    priority: str
    formulary_dispute: bool
    timeframe: str | None
    application_received: dt.date
    due_date: dt.date | None
    standing: Literal["overdue", "at_risk", "on_time"] | None
    ur_decision_date: dt.date
    eligibility: EligibilityOut | None
    condition_specialty: str | None
    redacted: bool
    date_of_injury: dt.date | None
    claimant: Claimant | None
    clinical_summary: str | None
    parties: list[PartyOut] | None
    documents: list[DocumentOut] | None
    items: list[ItemOut]
    assignment: AssignmentOut | None
    letter_issued: bool
    withdrawal: WithdrawalOut | None = None


class DecisionIn(BaseModel):
    """A reviewer's decision on one item; ``expected_version`` is the item's version as last read."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["Upheld", "Overturned"]
    guideline: b.text(b.REASON, 1)
    rationale: b.text(b.RATIONALE, 1)
    evidence_level: Literal["A", "B", "C", "D", "E", "F"] | None = None
    expected_version: int = Field(default=0, ge=0, le=2**31 - 1)


class DecisionResult(_Out):
    case_number: str
    position: int
    version: int
    status: str


class AssignIn(BaseModel):
    """Cases to assign as one batch; null: every case awaiting a reviewer."""

    model_config = ConfigDict(extra="forbid")

    case_numbers: list[b.line(b.CASE_NUMBER, 1)] | None = Field(default=None, max_length=1000)


class OutcomeOut(_Out):
    case_number: str
    reviewer: str | None
    why: list[str]
    others: dict[str, str]


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: b.text(b.REASON, 1)


class CaseCreated(_Out):
    case_number: str
    created: bool
    status: str


class AuditOut(_Out):
    id: int
    at: Moment
    actor: str
    case_number: str | None = None
    entity: str
    key: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(_Out):
    items: list[AuditOut]
    total: int
    limit: int
    offset: int


class ReviewerOut(_Out):
    code: str
    name: str
    specialties: list[str]
    licenses: list[dict[str, Any]]
    active_practice_since: dt.date
    weekly_clinical_hours: float
    capacity: int
    open_cases: int


class ReviewerPage(_Out):
    items: list[ReviewerOut]
    total: int
    limit: int
    offset: int


class ImportCounts(_Out):
    created: int
    updated: int
    unchanged: int


class IngestOut(_Out):
    stored: list[str]
    unchanged: list[str]
    errors: list[str]


class HitOut(_Out):
    letter: str
    item_number: int
    item: str
    decision: str
    family: str
    category: str
    year: int | None
    score: float
    snippet: str = ""  # the passage of the rationale or summary holding most of the query's words
    marks: list[tuple[int, int]] = []  # the start and end in snippet of each matched word


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: b.line(b.USERNAME, 1)
    password: b.text(b.PASSWORD, 1)
    name: b.line(b.TOKEN_NAME) = "api"


class TokenOut(_Out):
    token: str
    token_type: Literal["bearer"] = "bearer"


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=b.USERNAME, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: b.text(b.PASSWORD, 8)
    role: Literal["admin", "coordinator", "reviewer", "analyst"]
    reviewer_code: b.line(b.REVIEWER_CODE, 1) | None = None


class UserOut(_Out):
    username: str
    role: str
    reviewer_code: str | None


class PasswordChangeIn(BaseModel):
    """Your own new password: the current one proves it is you."""

    model_config = ConfigDict(extra="forbid")

    old_password: b.text(b.PASSWORD, 1)
    new_password: b.text(b.PASSWORD, 8)
    name: b.line(b.TOKEN_NAME) = "api"


class PasswordResetIn(BaseModel):
    """A temporary password an administrator sets for someone else's account."""

    model_config = ConfigDict(extra="forbid")

    password: b.text(b.PASSWORD, 8)


class ReassignIn(BaseModel):
    """Who takes an assigned case instead: a reviewer code, or null for the best other qualified one."""

    model_config = ConfigDict(extra="forbid")

    reviewer: b.line(b.REVIEWER_CODE, 1) | None = None


class CandidateOut(_Out):
    """A reviewer an assigned case might go to: whether they may take it now, and if not, why."""

    code: str
    name: str
    qualifies: bool
    open_cases: int
    capacity: int
    why_not: list[str]


class RosterEntry(ReviewerIn):
    """A reviewer on the roster; capacity (open cases at once) is bounded, as assignment plans each slot."""

    capacity: int = Field(default=10, ge=0, le=100)


class TokenInfo(_Out):
    """One of your API tokens (never its value)."""

    id: int
    name: str
    created: Moment
    expires: Moment
    last_used: Moment | None = None
