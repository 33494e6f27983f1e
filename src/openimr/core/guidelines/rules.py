"""The MTUS as versioned data: typed rules, a validating loader and rule selection.

``mtus.yaml`` (packaged beside this module) holds one rule per entry. Every numeric limit carries
its own verification (source, locator, status, evidence); qualitative criteria are conditions with
stable ids drawn from the file's ``conditions`` vocabulary, so fact extraction and the engine can
share them. ``rules_for`` returns the rules that may govern a parsed request, best fit first, or
``[]`` when no encoded rule addresses it.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from openimr.core.models import ReasonCode
from openimr.core.requests.model import Category
from openimr.core.yamlfile import YAMLError, load_yaml, yaml_error_line

RULES_FILE = "mtus.yaml"


# Canonical body parts of request.schema.json; rules name regions with these.
BODY_REGIONS = frozenset(
    {
        "lumbar spine",
        "cervical spine",
        "thoracic spine",
        "spine",
        "back",
        "shoulder",
        "elbow",
        "forearm",
        "wrist",
        "hand",
        "finger",
        "hip",
        "knee",
        "ankle",
        "foot",
        "head",
        "abdomen",
        "pelvis",
        "chest",
        "arm",
        "leg",
    }
)
_REGION_ALIASES = {
    "low back": "lumbar spine",
    "lower back": "lumbar spine",
    "lumbar": "lumbar spine",
    "lumbosacral spine": "lumbar spine",
    "neck": "cervical spine",
    "cervical": "cervical spine",
    "thoracic": "thoracic spine",
    "upper back": "thoracic spine",
    "upper extremity": "arm",
    "lower extremity": "leg",
}


class RuleFileError(ValueError):
    """The rules file is malformed; the message names the file and, where it can, the rule id."""


class Status(StrEnum):
    """Whether a figure or statement was read in its named source.

    ``quoted``: not read in the guideline itself but found word for word in the rationales of at
    least two published decisions, listed in the verification's ``quotes``.
    """

    VERIFIED = "verified"
    QUOTED = "quoted"
    UNVERIFIED = "unverified"


MIN_QUOTING_DECISIONS = 2


class Tier(StrEnum):
    """Rank in the LC 4610.5(c)(2) evidence hierarchy (statute constrains every tier)."""

    MTUS = "mtus"
    STATUTE = "statute"
    NON_MTUS = "non_mtus"


class Recommendation(StrEnum):
    RECOMMENDED = "recommended"
    CONDITIONAL = "conditional"
    NOT_RECOMMENDED = "not_recommended"


class Role(StrEnum):
    """How a condition bears on medical necessity.

    ``required``: must be met; ``any_of``: at least one of the rule's any_of conditions must be met;
    ``for_continuation``: must be met to extend or continue a prior course (more visits, refills);
    ``supporting``: favours necessity; ``contraindication``: weighs against when present.
    """

    REQUIRED = "required"
    ANY_OF = "any_of"
    FOR_CONTINUATION = "for_continuation"
    SUPPORTING = "supporting"
    CONTRAINDICATION = "contraindication"


class LimitKind(StrEnum):
    """What a numeric limit measures; the unit is part of the name."""

    INITIAL_TRIAL_VISITS = "initial_trial_visits"
    INITIAL_TRIAL_WEEKS = "initial_trial_weeks"
    TIME_TO_EFFECT_VISITS = "time_to_effect_visits"
    FREQUENCY_PER_WEEK = "frequency_per_week"
    DURATION_WEEKS = "duration_weeks"
    DURATION_MONTHS = "duration_months"
    MAX_VISITS = "max_visits"
    MAX_VISITS_PER_INJURY = "max_visits_per_injury"
    TREATMENT_PERIOD_MONTHS = "treatment_period_months"
    INITIAL_COURSE_FRACTION = "initial_course_fraction"
    TRIAL_MONTHS = "trial_months"
    CONSERVATIVE_CARE_WEEKS = "conservative_care_weeks"
    SYMPTOM_DURATION_MONTHS = "symptom_duration_months"
    MAX_USE_DAYS = "max_use_days"
    MAX_USE_WEEKS = "max_use_weeks"
    PAIN_RELIEF_PERCENT = "pain_relief_percent"
    RELIEF_DURATION_WEEKS = "relief_duration_weeks"
    MAX_LEVELS = "max_levels"
    MAX_INJECTIONS_PER_SESSION = "max_injections_per_session"
    MAX_HOURS_PER_WEEK = "max_hours_per_week"
    AGE_YEARS = "age_years"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Source(_Model):
    """A document a rule or figure comes from; ``url`` is where it was read, when it was."""

    title: str = Field(min_length=1)
    url: str | None = None
    kind: Literal["primary", "secondary", "document"]


class ConditionDef(_Model):
    """One entry of the condition vocabulary: what it means, its name in plain words (``label``),
    the decisive reason when a required one is missing (``reason``, a REASONS.md code) and what
    documentation would meet it (``hint``)."""

    description: str = Field(min_length=1)
    label: str = Field(min_length=1)
    reason: ReasonCode
    hint: str = Field(min_length=1)
    citation: str | None = None
    source: str | None = None


class DrugClass(_Model):
    """A drug class and the generic/brand names (lower case) that belong to it."""

    members: tuple[str, ...] = Field(min_length=1)


class Quote(_Model):
    """The guideline's words as one published decision quotes them."""

    case_number: str = Field(min_length=1)
    text: str = Field(min_length=1)


class Verification(_Model):
    """Where a statement or number comes from and whether it was seen there."""

    status: Status
    source: str = Field(min_length=1)
    locator: str = Field(min_length=1)
    evidence: str = Field(min_length=1)
    quotes: tuple[Quote, ...] = ()

    @model_validator(mode="after")
    def _quoted_twice(self) -> Verification:
        cases = {q.case_number for q in self.quotes}
        if self.status is Status.QUOTED and len(cases) < MIN_QUOTING_DECISIONS:
            raise ValueError(
                f"status quoted needs quotes from {MIN_QUOTING_DECISIONS} or more decisions, got {len(cases)}"
            )
        return self

    @property
    def established(self) -> bool:
        """Read in the source, or quoted verbatim by enough decisions."""
        return self.status in (Status.VERIFIED, Status.QUOTED)


class Limit(_Model):
    """A numeric limit: ``min``/``max`` bound the guideline's figure (a range keeps both)."""

    kind: LimitKind
    min: float | None = None
    max: float | None = None
    verification: Verification

    @model_validator(mode="after")
    def _bounds(self) -> Limit:
        if self.min is None and self.max is None:
            raise ValueError(f"limit {self.kind.value} has neither min nor max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"limit {self.kind.value}: min {self.min} > max {self.max}")
        return self

    @property
    def figure(self) -> str:
        """The figure in words: "3-6" for a range, else its one bound ("6")."""
        if self.min is not None and self.max is not None and self.min != self.max:
            return f"{self.min:g}-{self.max:g}"
        return f"{self.max if self.max is not None else self.min:g}"

    @property
    def verified(self) -> bool:
        """The figure is established: verified in its source or quoted by decisions."""
        return self.verification.established


class Condition(_Model):
    """A qualitative criterion of a rule, by vocabulary id."""

    id: str = Field(min_length=1)
    role: Role
    note: str | None = None


class Citation(_Model):
    regulation: str = Field(min_length=1)
    section: str = Field(min_length=1)


class Effective(_Model):
    """Dates of service the rule governs (inclusive; ``None`` = open)."""

    from_: dt.date | None = Field(default=None, alias="from")
    to: dt.date | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Effective:
        if self.from_ and self.to and self.from_ > self.to:
            raise ValueError(f"effective from {self.from_} is after to {self.to}")
        return self

    def covers(self, day: dt.date) -> bool:
        return (self.from_ is None or self.from_ <= day) and (self.to is None or day <= self.to)


class AppliesTo(_Model):
    """What requests a rule can govern; empty tuples and ``None`` mean "any"."""

    categories: tuple[Category, ...] = Field(min_length=1)
    drug_classes: tuple[str, ...] = ()
    body_regions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    diagnoses: tuple[str, ...] = ()
    postoperative: bool | None = None

    @field_validator("body_regions")
    @classmethod
    def _known_regions(cls, regions: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(regions) - BODY_REGIONS)
        if unknown:
            raise ValueError(f"unknown body regions {unknown}")
        return regions

    @field_validator("keywords", "diagnoses")
    @classmethod
    def _lower_case(cls, words: tuple[str, ...]) -> tuple[str, ...]:
        if any(w != w.lower().strip() or not w for w in words):
            raise ValueError("keywords and diagnoses must be non-empty, lower case and trimmed")
        return words


class Rule(_Model):
    """One encoded guideline recommendation."""

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    tier: Tier
    family: str = Field(min_length=1)
    letter_label: str | None
    citation: Citation
    effective: Effective
    applies_to: AppliesTo
    recommendation: Recommendation
    limits: tuple[Limit, ...] = ()
    conditions: tuple[Condition, ...] = ()
    verification: Verification
    criteria_encoded: bool = True
    note: str | None = None
    pack: str | None = Field(
        default=None, description="The criteria pack the rule came from (set on loading)."
    )

    @model_validator(mode="after")
    def _encoded(self) -> Rule:
        if not self.criteria_encoded and (self.limits or self.conditions):
            raise ValueError("criteria_encoded is false but the rule has limits or conditions")
        return self

    def limit(self, kind: LimitKind | str) -> Limit | None:
        """The rule's limit of that kind, if it has one."""
        return next((lim for lim in self.limits if lim.kind == kind), None)

    def matches_text(self, text: str) -> bool:
        """Whether *text* (an item line) names one of the rule's keywords as a whole word."""
        return any(_word_pattern(kw).search(text.lower()) for kw in self.applies_to.keywords)


class Definition(_Model):
    """A term the regulations define, or an evidence rule they lay down, in the source's own words
    (``text``, quoted), with its citation, its verification and, where the text states one, the
    figure it sets (``figure`` in ``unit``: chronic pain is pain of 3 or more months)."""

    kind: Literal["definition", "evidence_rule"]
    term: str = Field(min_length=1)
    text: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    effective: Effective
    verification: Verification
    figure: float | None = None
    unit: str | None = None

    @model_validator(mode="after")
    def _unit(self) -> Definition:
        if (self.figure is None) != (self.unit is None):
            raise ValueError("figure and unit go together")
        return self


class RuleSet(_Model):
    """The whole rules file."""

    version: str = Field(min_length=1)
    sources: dict[str, Source]
    conditions: dict[str, ConditionDef]
    drug_classes: dict[str, DrugClass]
    definitions: dict[str, Definition] = Field(default_factory=dict)
    rules: tuple[Rule, ...] = Field(min_length=1)


@cache
def _word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])")


def _describe(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in error.errors())


def check_references(ruleset: RuleSet, origin: str) -> None:
    """Cross-reference checks pydantic cannot do entry by entry."""
    for name, cond in ruleset.conditions.items():
        if cond.source is not None and cond.source not in ruleset.sources:
            raise RuleFileError(f"{origin}: condition {name!r}: unknown source {cond.source!r}")
    for name, term in ruleset.definitions.items():
        if term.verification.source not in ruleset.sources:
            raise RuleFileError(f"{origin}: definition {name!r}: unknown source {term.verification.source!r}")
    seen: set[str] = set()
    for rule in ruleset.rules:
        where = f"{origin}: rule {rule.id!r}"
        if rule.id in seen:
            raise RuleFileError(f"{where}: duplicate id")
        seen.add(rule.id)
        for ver in (rule.verification, *(lim.verification for lim in rule.limits)):
            if ver.source not in ruleset.sources:
                raise RuleFileError(f"{where}: unknown source {ver.source!r}")
            if ver.status is Status.VERIFIED and ruleset.sources[ver.source].url is None:
                raise RuleFileError(f"{where}: verified against {ver.source!r}, which has no URL")
        for cond in rule.conditions:
            if cond.id not in ruleset.conditions:
                raise RuleFileError(f"{where}: unknown condition {cond.id!r}")
        for name in rule.applies_to.drug_classes:
            if name not in ruleset.drug_classes:
                raise RuleFileError(f"{where}: unknown drug class {name!r}")
        kinds = [lim.kind for lim in rule.limits]
        if len(kinds) != len(set(kinds)):
            raise RuleFileError(f"{where}: a limit kind appears twice")


def parse_rules(text: str, origin: str = RULES_FILE) -> RuleSet:
    """Parse and validate a rules file; raise RuleFileError naming the file and the rule at fault."""
    try:
        data: Any = load_yaml(text)
    except YAMLError as exc:
        raise RuleFileError(yaml_error_line(origin, exc)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RuleFileError(f"{origin}: expected a mapping with a 'rules' list")
    rules = []
    for index, raw in enumerate(data["rules"]):
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        label = repr(rule_id) if rule_id else f"#{index + 1}"
        try:
            rules.append(Rule.model_validate(raw))
        except ValidationError as exc:
            raise RuleFileError(f"{origin}: rule {label}: {_describe(exc)}") from exc
    try:
        ruleset = RuleSet.model_validate({**data, "rules": rules})
    except ValidationError as exc:
        raise RuleFileError(f"{origin}: {_describe(exc)}") from exc
    check_references(ruleset, origin)
    return ruleset


@cache
def load_packaged() -> RuleSet:
    """The packaged rules alone (validated once, then cached)."""
    text = resources.files(__package__).joinpath(RULES_FILE).read_text(encoding="utf-8")
    return parse_rules(text, RULES_FILE)


def load_rules() -> RuleSet:
    """The rules the engine uses: the packaged ones and those of every installed criteria pack
    (see :mod:`openimr.core.guidelines.packs`), merged once per change of the installed packs."""
    from openimr.core.guidelines.packs import with_installed

    return with_installed()


def normalize_region(region: str) -> str:
    """A body part in the request's canonical spelling ("low back" -> "lumbar spine")."""
    key = " ".join(region.lower().split())
    return _REGION_ALIASES.get(key, key)


def drug_classes_of(name: str) -> tuple[str, ...]:
    """Drug classes whose member names occur in *name*; "/"-joined ingredients also make it a compound."""
    classes = [
        cls
        for cls, spec in load_rules().drug_classes.items()
        if any(_word_pattern(member).search(name.lower()) for member in spec.members)
    ]
    if "/" in name and "compounded_drug" not in classes:
        classes.append("compounded_drug")
    return tuple(classes)


_TIER_RANK = {Tier.MTUS: 0, Tier.STATUTE: 1, Tier.NON_MTUS: 2}


def _names_any(words: tuple[str, ...], text: str) -> bool:
    low = text.lower()
    return any(_word_pattern(w).search(low) for w in words)


def _rivals(rules: tuple[Rule, ...], rule: Rule) -> tuple[str, ...]:
    """The diagnoses of every rule that competes with *rule* (same postoperative scope, a category
    in common), its own included."""
    scope = rule.applies_to
    return tuple(
        dict.fromkeys(
            d
            for other in rules
            if other.applies_to.postoperative == scope.postoperative
            and set(other.applies_to.categories) & set(scope.categories)
            for d in other.applies_to.diagnoses
        )
    )


def _diagnosis_fit(rules: tuple[Rule, ...], rule: Rule, diagnoses: str | None) -> bool | None:
    """True when *diagnoses* names one of the rule's diagnoses; False when it names only those of
    competing rules; None (unknown) when it names none of them or is not given."""
    if diagnoses is None:
        return None
    if _names_any(rule.applies_to.diagnoses, diagnoses):
        return True
    return False if _names_any(_rivals(rules, rule), diagnoses) else None


def _fit(
    rule: Rule,
    region: str | None,
    text: str | None,
    postoperative: bool | None,
    diagnosis: bool | None = None,
) -> tuple[int, int] | None:
    """(confirmed, unknown) counts of the rule's restrictions, or None when the request is outside it."""
    scope = rule.applies_to
    tests: list[bool | None] = []
    if scope.body_regions:
        tests.append(None if region is None else region in scope.body_regions)
    if scope.keywords:
        tests.append(None if text is None else rule.matches_text(text))
    if scope.diagnoses:
        tests.append(diagnosis)
    if scope.postoperative is not None:
        tests.append(None if postoperative is None else postoperative == scope.postoperative)
    if False in tests:
        return None
    return tests.count(True) + bool(scope.drug_classes), tests.count(None)


def rules_for(
    category: str,
    drug_class: str | None = None,
    body_region: str | None = None,
    date_of_service: dt.date | None = None,
    *,
    text: str | None = None,
    postoperative: bool | None = None,
    diagnoses: str | None = None,
) -> list[Rule]:
    """Rules that may govern a request, best fit first; ``[]`` when none addresses it.

    A rule restricted to drug classes needs a matching ``drug_class``. Restrictions to body
    regions, item keywords (matched in ``text``, the item line) or postoperative status exclude a
    rule only when the request's value is known and differs; when it is unknown the rule is kept
    but ranked after rules known to fit. A rule restricted to diagnoses (or, for postsurgical
    rules, operations) fits when ``diagnoses`` (the item line and the clinical summary) names one
    of them as a whole word; it is excluded when that text names only diagnoses of competing
    rules (same postoperative scope, a category in common) and none of its own, and counts as
    unknown when it names none or ``diagnoses`` is not given. Without ``date_of_service`` no rule
    is excluded by date.
    Order: MTUS, then statute, then non-MTUS; within a tier fewer unknowns, then more confirmed
    restrictions, then file order.
    """
    region = normalize_region(body_region) if body_region else None
    ranked: list[tuple[tuple[int, int, int, int], Rule]] = []
    rules = load_rules().rules
    for index, rule in enumerate(rules):
        scope = rule.applies_to
        if category not in scope.categories:
            continue
        if date_of_service is not None and not rule.effective.covers(date_of_service):
            continue
        if scope.drug_classes and drug_class not in scope.drug_classes:
            continue
        diagnosis = _diagnosis_fit(rules, rule, diagnoses) if scope.diagnoses else None
        fit = _fit(rule, region, text, postoperative, diagnosis)
        if fit is not None:
            confirmed, unknown = fit
            ranked.append(((_TIER_RANK[rule.tier], unknown, -confirmed, index), rule))
    return [rule for _, rule in sorted(ranked, key=lambda item: item[0])]
