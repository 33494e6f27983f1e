"""Typed records of an IMR Final Determination letter.

The models serialize (``model_dump(mode="json")``) to exactly the shape of
``schemas/letter.schema.json``: every key present, absent facts as ``null`` or ``[]``.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Decision = Literal["Upheld", "Overturned"]
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
