"""Facts read from a clinical summary, each with the span of text that shows it."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FactKind = Literal[
    "age",
    "prior_therapy",
    "functional_improvement",
    "pain_score",
    "injury_date",
    "time_since_injury",
    "symptom_duration",
    "surgery",
    "neuro_deficit",
    "red_flag",
    "internal_derangement",
    "failed_conservative_care",
    "medication",
    "gi_risk",
    "urine_drug_screen",
    "work_status",
    "ur_action",
]
Status = Literal["affirmed", "negated", "mixed", "uncertain", "not_documented"]


class Fact(BaseModel):
    """One fact: what it is, its normalised value, how the text qualifies it, and where it says so.

    ``number``/``unit`` carry a count (sessions), a score (pain out of 10) or a duration (days);
    ``date`` a date the fact is tied to (surgery, screen, injury, medication start); ``qualifier``
    a further detail (drug class, "with_medication", "consistent"). ``modifiers`` are the ConText
    triggers that set the flags.
    """

    model_config = ConfigDict(frozen=True)

    kind: FactKind
    value: str
    number: float | None = None
    unit: str | None = None
    date: dt.date | None = None
    qualifier: str | None = None
    negated: bool = False
    uncertain: bool = False
    historical: bool = False
    hypothetical: bool = False
    family: bool = False
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    snippet: str
    modifiers: tuple[str, ...] = ()

    @property
    def affirmed(self) -> bool:
        """Asserted of the patient as fact: not negated, uncertain, hypothetical or someone else's."""
        return not (self.negated or self.uncertain or self.hypothetical or self.family)


class Evidence(BaseModel):
    """The facts for or against one finding; truthy when the record affirms it."""

    model_config = ConfigDict(frozen=True)

    kind: FactKind
    value: str | None = None
    affirmed: list[Fact] = []
    negated: list[Fact] = []
    uncertain: list[Fact] = []

    @property
    def status(self) -> Status:
        if self.affirmed and self.negated:
            return "mixed"
        if self.affirmed:
            return "affirmed"
        if self.negated:
            return "negated"
        return "uncertain" if self.uncertain else "not_documented"

    def __bool__(self) -> bool:
        return bool(self.affirmed)


class Facts(BaseModel):
    """All facts of one summary, in text order, with the queries the review engine asks."""

    model_config = ConfigDict(frozen=True)

    facts: list[Fact] = []

    def of(self, kind: FactKind, value: str | None = None, *, hypothetical: bool = False) -> list[Fact]:
        """Facts of *kind* (and *value*); requested or planned ones only when *hypothetical*."""
        return [
            f
            for f in self.facts
            if f.kind == kind
            and (value is None or f.value == value)
            and (hypothetical or not f.hypothetical)
            and not f.family
        ]

    def has(self, kind: FactKind, value: str | None = None) -> Evidence:
        """Affirmed, negated and uncertain evidence for *kind* (and *value*), requests left out."""
        found = self.of(kind, value)
        return Evidence(
            kind=kind,
            value=value,
            affirmed=[f for f in found if f.affirmed],
            negated=[f for f in found if f.negated],
            uncertain=[f for f in found if f.uncertain and not f.negated],
        )

    def prior_sessions(self, therapy: str | None = None) -> list[Fact]:
        """Mentions of prior (not requested, not denied) sessions of *therapy*, with or without a count."""
        return [f for f in self.of("prior_therapy", therapy) if f.affirmed]

    def prior_session_count(self, therapy: str | None = None) -> int | None:
        """The largest stated count of prior sessions of *therapy* (counts repeat across a summary
        more often than they add up), or None when no count is stated."""
        counts = [int(f.number) for f in self.prior_sessions(therapy) if f.number is not None]
        return max(counts) if counts else None

    def pain_scores(self, qualifier: str | None = None) -> list[Fact]:
        """Pain scores out of 10 (``number``), optionally only "with_medication"/"without_medication"."""
        return [f for f in self.of("pain_score") if qualifier is None or f.qualifier == qualifier]

    def medications(self, drug_class: str | None = None) -> list[Fact]:
        """Medications taken (not requested, not denied), optionally of one class (``qualifier``)."""
        return [
            f
            for f in self.of("medication")
            if f.affirmed and (drug_class is None or f.qualifier == drug_class)
        ]

    def medication_days(self, drug_class: str | None = None) -> int | None:
        """The longest stated duration of use, in days, of medications of *drug_class*."""
        days = [int(f.number) for f in self.medications(drug_class) if f.number is not None]
        return max(days) if days else None

    @property
    def age(self) -> int | None:
        ages = self.of("age")
        return int(ages[0].number) if ages and ages[0].number is not None else None

    @property
    def injury_date(self) -> dt.date | None:
        dates = self.of("injury_date")
        return dates[0].date if dates else None

    @property
    def days_since_injury(self) -> int | None:
        """Days from the date of injury to the latest date in the summary."""
        spans = self.of("time_since_injury")
        return int(spans[0].number) if spans and spans[0].number is not None else None

    @property
    def work_status(self) -> str | None:
        """The last affirmed work status in the summary."""
        found = [f for f in self.of("work_status") if f.affirmed]
        return found[-1].value if found else None

    @property
    def ur_actions(self) -> list[Fact]:
        """The utilization review's actions ("denied", "modified" with ``number`` visits, "approved")."""
        return [f for f in self.facts if f.kind == "ur_action"]
