"""What comes in: a case as submitted (``cases create CASE.json``) and a reviewer roster entry.

A case file is a superset of ``case.schema.json``: that schema's fields, plus the parties, the UR
decision's items and outcomes, and the documents received. ``ur_denial_date`` is read as the UR
decision date.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from openimr.core.models import Claimant, Priority

PartyRole = Literal[
    "employee",
    "employer",
    "claims_administrator",
    "requesting_provider",
    "treating_provider",
    "ur_organization",
    "employee_attorney",
]
UrOutcome = Literal["denied", "modified", "delayed", "approved"]
LicenseStatus = Literal["active", "probation", "suspended", "revoked", "expired", "inactive"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def norm(text: str) -> str:
    """Case- and whitespace-insensitive form of a name or an item, for matching."""
    return re.sub(r"\s+", " ", text).strip().casefold()


class Party(_In):
    """Someone with a stake in the dispute; a reviewer must have no affiliation with any of them."""

    role: PartyRole
    name: str = Field(min_length=1)
    specialty: str | None = None


class UrItem(_In):
    """One treatment the UR decision acted on, and what it did."""

    item: str
    outcome: UrOutcome


class DisputedItem(_In):
    """One disputed item/service; ``category`` (request.schema.json) is parsed from it when absent."""

    item: str = Field(min_length=1)
    original_request: str | None = None
    authorized: str | None = None
    claims_administrator_guideline: str | None = None
    category: str | None = None


class DocumentIn(_In):
    """A file of the case record, relative to the case file's folder."""

    path: str
    type: str = "medical_records"
    received: dt.date


class CaseIn(_In):
    """An application for IMR with what the review organization knows before review."""

    case_number: str | None = Field(default=None, pattern=r"^CM\d{2}-\d{7}$")
    priority: Priority = "Standard"
    formulary_dispute: bool = False
    application_received: dt.date
    documents_received: dt.date | None = None
    date_of_injury: dt.date | None = None
    ur_decision_date: dt.date = Field(validation_alias=AliasChoices("ur_decision_date", "ur_denial_date"))
    ur_decision_served: dt.date | None = None
    ur_items: list[UrItem] = Field(default_factory=list)
    claimant: Claimant = Field(default_factory=Claimant)
    condition_specialty: str | None = None
    parties: list[Party] = Field(default_factory=list)
    clinical_summary: str
    disputed_items: list[DisputedItem] = Field(min_length=1)
    documents: list[DocumentIn] = Field(default_factory=list)

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, value: object) -> object:
        return value or "Standard"

    def specialty_of_condition(self) -> str | None:
        """The specialty that treats the condition: stated, else the requesting provider's."""
        if self.condition_specialty:
            return self.condition_specialty
        return next((p.specialty for p in self.parties if p.role == "requesting_provider"), None)


class License(_In):
    """A licence to practise: state, kind (MD, DO, DC, LAc, PhD...), number, standing."""

    state: str
    kind: str
    number: str = ""
    status: LicenseStatus = "active"
    expires: dt.date | None = None

    def in_good_standing(self, on: dt.date, statuses: list[str]) -> bool:
        """Whether the licence's status counts as good standing and it has not expired by *on*."""
        return self.status in statuses and (self.expires is None or self.expires >= on)


class ReviewerIn(_In):
    """An expert reviewer on the roster (``reviewers import``)."""

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    licenses: list[License] = Field(min_length=1)
    specialties: list[str] = Field(min_length=1)
    active_practice_since: dt.date
    weekly_clinical_hours: float = Field(ge=0)
    affiliations: list[str] = Field(default_factory=list)
    capacity: int = Field(default=10, ge=0)
