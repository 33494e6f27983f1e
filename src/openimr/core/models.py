"""Typed records of an IMR Final Determination letter.

The models serialize (``model_dump(mode="json")``) to exactly the shape of
``schemas/letter.schema.json``: every key present, absent facts as ``null`` or ``[]``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Decision(StrEnum):
    """An expert reviewer's decision on one disputed item."""

    UPHELD = "Upheld"  # the UR denial or modification stands
    OVERTURNED = "Overturned"  # the treatment is medically necessary


class ReasonCode(StrEnum):
    """Why an expert reviewer decided an item: the codes of data/dwc-letters/REASONS.md.

    Upheld codes are listed first, the specific before the general: where two reasons weigh
    equally, the earlier one is the decisive reason (the order REASONS.md gives its labellers).
    """

    EXCEEDS_LIMITS = "exceeds_limits"
    NO_FUNCTIONAL_IMPROVEMENT = "no_functional_improvement"
    MONITORING_NOT_DOCUMENTED = "monitoring_not_documented"
    CONSERVATIVE_CARE_NOT_FAILED = "conservative_care_not_failed"
    INDICATIONS_NOT_DOCUMENTED = "indications_not_documented"
    REQUEST_UNCLEAR = "request_unclear"
    NOT_RECOMMENDED = "not_recommended"
    ASSOCIATED_WITH_DENIED = "associated_with_denied"
    OTHER_UPHELD = "other_upheld"
    CRITERIA_MET = "criteria_met"
    ASSOCIATED_WITH_CERTIFIED = "associated_with_certified"
    OTHER_OVERTURNED = "other_overturned"

    @property
    def decision(self) -> Decision:
        """The decision this reason carries."""
        return Decision.OVERTURNED if self in OVERTURNED_REASONS else Decision.UPHELD


OVERTURNED_REASONS = frozenset(
    {ReasonCode.CRITERIA_MET, ReasonCode.ASSOCIATED_WITH_CERTIFIED, ReasonCode.OTHER_OVERTURNED}
)


class EvidenceLevel(StrEnum):
    """The standards of medical necessity of Labor Code 4610.5(c)(2), in the order they apply."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"

    @property
    def standard(self) -> str:
        """The standard as the Labor Code names it."""
        return EVIDENCE_STANDARDS[self]


EVIDENCE_STANDARDS: dict[EvidenceLevel, str] = {
    EvidenceLevel.A: "MTUS guidelines adopted by the administrative director",
    EvidenceLevel.B: "peer-reviewed scientific and medical evidence",
    EvidenceLevel.C: "nationally recognized professional standards",
    EvidenceLevel.D: "expert opinion",
    EvidenceLevel.E: "generally accepted standards of medical practice",
    EvidenceLevel.F: "treatments likely to benefit where other treatments are not clinically efficacious",
}
Priority = Literal["Standard", "Expedited"]
Sex = Literal["male", "female"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Reviewer(_Record):
    """The expert reviewer's credentials as the letter states them (never a name)."""

    license_states: list[str] = Field(default_factory=list)
    specialties: list[str] = Field(default_factory=list)


class Claimant(_Record):
    """The injured worker, as far as the letter describes them."""

    age: int | None = None
    sex: Sex | None = None


class Issue(_Record):
    """One disputed item/service and its decision."""

    item: str
    original_request: str | None = None
    authorized: str | None = None
    decision: Decision
    claims_administrator_guideline: str | None = None
    imro_guideline: str | None = None
    rationale: str | None = None


class Letter(_Record):
    """One IMR Final Determination letter as structured data."""

    file: str
    case_number: str | None = None
    date_assigned: dt.date | None = None
    date_of_injury: dt.date | None = None
    decision_date: dt.date | None = None
    ur_denial_date: dt.date | None = None
    application_received: dt.date | None = None
    priority: Priority | None = None
    reviewer: Reviewer = Field(default_factory=Reviewer)
    claimant: Claimant = Field(default_factory=Claimant)
    clinical_summary: str | None = None
    issues: list[Issue] = Field(default_factory=list)

    def to_json_dict(self) -> dict:
        """The letter.schema.json record (dates as ISO strings)."""
        return self.model_dump(mode="json")
