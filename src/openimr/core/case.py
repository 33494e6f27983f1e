"""An IMR case: what the review organization knows before the expert reviewer decides.

One model with every field, in two strengths. :class:`Case` is what review needs
(``case.schema.json``): every field but the disputed items may be missing, unknown fields are
ignored, and cases are read from JSON files or rebuilt from decided letters. :class:`Application`
is a case as submitted for IMR (``cases create CASE.json``): the same fields, with the application
date, the UR decision date, the summary and at least one disputed item required, and unknown fields
refused. ``ur_denial_date`` (the letters' and ``case.schema.json``'s name) is read as
``ur_decision_date``.

An application is also refused, field by field in plain words, when it cannot be: a date after
today, an injury after the UR decision, an application or a service before the decision, a
claimant's age outside :data:`WORKING_AGE`, an item asking for no or absurdly many visits or
units (:data:`MOST`). "Today" is the validation context's ``today`` (a :class:`datetime.date`;
``Application.model_validate(data, context={"today": day})``), else the system's date.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from openimr.core import bounds as b
from openimr.core.dates import long_date
from openimr.core.errors import FileProblem
from openimr.core.models import Claimant, Priority
from openimr.core.requests.parse import parse
from openimr.core.validation import plain

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


# The most a single item may ask for; more is a typing mistake (a year of daily visits, a drug
# supply for years).
MOST = {"sessions": 365, "frequency_per_week": 21, "duration_weeks": 260, "quantity": 10_000}


def _possible_counts(text: str) -> str:
    """The item *text*, unless it asks for what cannot be (no visits, or absurdly many)."""
    request = parse(text)
    stated = {
        "sessions": (request.sessions, "visits"),
        "frequency_per_week": (request.frequency_per_week, "visits a week"),
        "duration_weeks": (request.duration_weeks, "weeks"),
        "quantity": (request.drug.quantity if request.drug else None, "units of the drug"),
    }
    for key, (value, unit) in stated.items():
        if value is not None and value <= 0:
            raise PydanticCustomError(
                "impossible_quantity", f"asks for {value:g} {unit}: a request asks for at least one"
            )
        if value is not None and value > MOST[key]:
            raise PydanticCustomError(
                "impossible_quantity",
                f"asks for {value:g} {unit}: more than anyone is prescribed (at most {MOST[key]:,})",
            )
    return text


class ApplicationItem(DisputedItem):
    """A disputed item as an application states it: named, asking for what can be, and nothing
    unknown."""

    model_config = ConfigDict(extra="forbid")

    item: Annotated[b.text(b.ITEM_TEXT, 1), AfterValidator(_possible_counts)]


# The ages an injured worker taken in may have. 14: the youngest age at which a minor may be
# employed in ordinary work, with a permit to work (29 C.F.R. 570.2 and 570.33-35 under the Fair
# Labor Standards Act; California's permits for minors, Education Code 49110-49116). 110: above the
# age of anyone at work (people older are a few dozen in the world). The store takes ages up to
# bounds.MAX_AGE: a case read for review (:class:`Case`) is not held to these.
WORKING_AGE = (14, 110)
WORKING_AGE_SOURCE = (
    "14 is the youngest age at which a minor may work with a work permit (29 C.F.R. 570.2; "
    "California Education Code 49110-49116), and no worker is older than 110"
)


def _working_age(age: int) -> int:
    low, high = WORKING_AGE
    if not low <= age <= high:
        raise PydanticCustomError(
            "age_range",
            "must be between {low} and {high} ({why})",
            {"low": low, "high": high, "why": WORKING_AGE_SOURCE},
        )
    return age


class ApplicationClaimant(CaseClaimant):
    """The injured worker as an application states them: of working age."""

    model_config = ConfigDict(extra="forbid")

    age: (
        Annotated[
            int,
            AfterValidator(_working_age),
            Field(json_schema_extra={"minimum": WORKING_AGE[0], "maximum": WORKING_AGE[1]}),
        ]
        | None
    ) = None


def today_of(info: ValidationInfo) -> dt.date:
    """The day an application is checked against: the validation context's ``today``, else the
    system's date."""
    context = info.context if isinstance(info.context, dict) else {}
    day = context.get("today")
    return day if isinstance(day, dt.date) else dt.date.today()


class Application(Case):
    """An application for IMR: a :class:`Case` with what intake requires of it, and nothing that
    cannot be (see the module's docstring)."""

    model_config = ConfigDict(extra="forbid")

    case_number: b.line(b.CASE_NUMBER) | None = Field(default=None, pattern=r"^CM\d{2}-\d{7}$")
    priority: Priority = "Standard"
    application_received: b.Day
    ur_decision_date: b.Day = Field(validation_alias=AliasChoices("ur_decision_date", "ur_denial_date"))
    clinical_summary: b.text(b.SUMMARY)
    disputed_items: list[ApplicationItem] = Field(min_length=1, max_length=b.MAX_ITEMS)
    claimant: ApplicationClaimant = Field(default_factory=ApplicationClaimant)

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, value: object) -> object:
        return value or "Standard"

    @field_validator(
        "application_received",
        "documents_received",
        "date_of_injury",
        "ur_decision_date",
        "ur_decision_served",
    )
    @classmethod
    def _not_future(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        today = today_of(info)
        if value is not None and value > today:
            raise PydanticCustomError(
                "date_in_future",
                "{day} is in the future (today is {today})",
                {"day": long_date(value), "today": long_date(today)},
            )
        return value

    @model_validator(mode="after")
    def _possible(self) -> Application:
        """Dates in the order things happen: the injury, the UR decision, its service and the
        application."""
        decided = self.ur_decision_date
        order = (  # a day, and on which side of the decision it cannot be
            ("date_of_injury", self.date_of_injury, "after", "the injury comes first"),
            (
                "application_received",
                self.application_received,
                "before",
                "an application for IMR asks to review a decision already made",
            ),
            ("ur_decision_served", self.ur_decision_served, "before", "a decision is served once made"),
        )
        problems = [
            InitErrorDetails(
                type=PydanticCustomError(
                    f"{side}_decision",
                    f"{long_date(day)} is {side} the UR decision ({long_date(decided)}): {why}",
                ),
                loc=(field,),
                input=str(day),
            )
            for field, day, side, why in order
            if day and (day > decided if side == "after" else day < decided)
        ]
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self


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
        raise CaseError(file, f"invalid case: {plain(exc.errors()[:1], data)[0]}") from None


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
