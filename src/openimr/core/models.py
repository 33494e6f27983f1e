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
