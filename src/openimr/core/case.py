"""An IMR case: what the review organization knows before the expert reviewer decides.

One model with every field, in two strengths. :class:`Case` is what review needs
(``case.schema.json``): every field but the disputed items may be missing, unknown fields are
ignored, and cases are read from JSON files or rebuilt from decided letters. :class:`Application`
is a case as submitted for IMR (``cases create CASE.json``): the same fields, with the application
date, the UR decision date, the summary and at least one disputed item required, and unknown fields
refused. ``ur_denial_date`` (the letters' and ``case.schema.json``'s name) is read as
``ur_decision_date``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from openimr.core import bounds as b
from openimr.core.errors import FileProblem
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


class CaseError(FileProblem):
    """A case file that cannot be read; ``str()`` names the file and the problem on one line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Party(_Strict):
    """Someone with a stake in the dispute; a reviewer must have no affiliation with any of them."""

    role: PartyRole
    name: b.line(b.PARTY_NAME, 1)
    specialty: b.line(b.SPECIALTY) | None = None
    address: b.text(b.ADDRESS) | None = None


class UrItem(_Strict):
    """One treatment the UR decision acted on, and what it did."""

    item: b.text(b.ITEM_TEXT)
    outcome: UrOutcome


class DocumentIn(_Strict):
    """A file of the case record, relative to the case file's folder."""

    path: b.line(4096)
    type: b.line(b.DOC_TYPE, 1) = "medical_records"
    received: b.Day


class DisputedItem(BaseModel):
    """One disputed item/service; ``category`` (request.schema.json) is parsed from it when absent."""

    model_config = ConfigDict(extra="ignore")

    item: b.text(b.ITEM_TEXT) = ""
    original_request: b.text(b.ITEM_TEXT) | None = None
    authorized: b.text(b.ITEM_TEXT) | None = None
    claims_administrator_guideline: b.text(b.ITEM_TEXT) | None = None
    ur_outcome: UrOutcome | None = None
    category: b.line(b.CATEGORY) | None = None


class CaseClaimant(Claimant):
    """The injured worker as a case states them: an age a person can have."""

    name: b.line(b.PARTY_NAME) | None = None
    age: b.Age | None = None


class Case(BaseModel):
    """A case for review: what is known of it, any field but the disputed items possibly missing.

    Every field is bounded (:mod:`openimr.core.bounds`): its length, its characters, its dates,
    the number of items, parties and documents."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    case_number: b.line(b.CASE_NUMBER) | None = None
    claim_number: b.line(b.CLAIM_NUMBER) | None = None
    priority: Priority | None = None
    formulary_dispute: bool = False
    application_received: b.Day | None = None
    documents_received: b.Day | None = None
    date_of_injury: b.Day | None = None
    ur_decision_date: b.Day | None = Field(
        default=None, validation_alias=AliasChoices("ur_decision_date", "ur_denial_date")
    )
    ur_decision_served: b.Day | None = None
    ur_items: list[UrItem] = Field(default_factory=list, max_length=b.MAX_ITEMS)
    claimant: CaseClaimant = Field(default_factory=CaseClaimant)
    condition_specialty: b.line(b.SPECIALTY) | None = None
    parties: list[Party] = Field(default_factory=list, max_length=b.MAX_PARTIES)
    clinical_summary: b.text(b.SUMMARY) = ""
    disputed_items: list[DisputedItem] = Field(default_factory=list, max_length=b.MAX_ITEMS)
    documents: list[DocumentIn] = Field(default_factory=list, max_length=b.MAX_DOCUMENTS)

    def specialty_of_condition(self) -> str | None:
        """The specialty that treats the condition: stated, else the requesting provider's."""
        if self.condition_specialty:
            return self.condition_specialty
        return next((p.specialty for p in self.parties if p.role == "requesting_provider"), None)


class ApplicationItem(DisputedItem):
    """A disputed item as an application states it: named, and nothing unknown."""

    model_config = ConfigDict(extra="forbid")

    item: b.text(b.ITEM_TEXT, 1)


class Application(Case):
    """An application for IMR: a :class:`Case` with what intake requires of it."""

    model_config = ConfigDict(extra="forbid")

    case_number: b.line(b.CASE_NUMBER) | None = Field(default=None, pattern=r"^CM\d{2}-\d{7}$")
    priority: Priority = "Standard"
    application_received: b.Day
    ur_decision_date: b.Day = Field(validation_alias=AliasChoices("ur_decision_date", "ur_denial_date"))
    clinical_summary: b.text(b.SUMMARY)
    disputed_items: list[ApplicationItem] = Field(min_length=1, max_length=b.MAX_ITEMS)

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, value: object) -> object:
        return value or "Standard"


def case_from_json(data: object, file: str) -> Case:
    """Validate decoded JSON as a case; missing optional fields become null."""
    if not isinstance(data, dict):
        raise CaseError(file, "a case must be a JSON object")
    if not data.get("disputed_items"):
        what = "a letter record, not a case" if "issues" in data else "not a case"
        raise CaseError(file, f"{what}: a case lists its disputed items under 'disputed_items'")
    data = {**data, "clinical_summary": data.get("clinical_summary") or ""}
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CaseError(file, f"invalid case: {where}: {first['msg']}") from None


def case_from_letter(record: dict) -> Case:
    """The case behind a decided letter record (letter.schema.json), decisions removed."""
    items = [
        DisputedItem(
            item=i["item"],
            original_request=i.get("original_request"),
            authorized=i.get("authorized"),
            claims_administrator_guideline=i.get("claims_administrator_guideline"),
        )
        for i in record.get("issues", [])
    ]
    return case_from_json(
        {
            "case_number": record.get("case_number"),
            "priority": record.get("priority"),
            "application_received": record.get("application_received"),
            "date_of_injury": record.get("date_of_injury"),
            "ur_denial_date": record.get("ur_denial_date"),
            "claimant": record.get("claimant") or {},
            "clinical_summary": record.get("clinical_summary") or "",
            "disputed_items": [i.model_dump() for i in items],
        },
        str(record.get("file", "<letter>")),
    )
