"""Evaluating a rule's criteria (numeric limits and conditions) against a request and the record.

Each criterion comes out met, unmet, not documented or not assessed, with the evidence (the
text spans of the facts) that decided it. Numbers come only from the rules file, with their
verification status; nothing here invents a limit.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from openimr.core.facts.models import Fact, Facts
from openimr.core.guidelines.rules import Limit, LimitKind, Recommendation, Role, Rule, load_rules
from openimr.core.requests import Request

Status = Literal["met", "unmet", "not_documented", "not_assessed"]
VISIT_CATEGORIES = frozenset(
    {"physical_therapy", "occupational_therapy", "chiropractic", "acupuncture", "massage", "psychological"}
)
WEEKS_PER_MONTH = 4.345
# The therapy a visit-type request continues, as the facts name it.
THERAPY_OF = {
    "physical_therapy": "physical_therapy",
    "occupational_therapy": "occupational_therapy",
    "chiropractic": "chiropractic",
    "acupuncture": "acupuncture",
    "massage": "massage",
    "psychological": "psychotherapy",
}
# The limit kinds :func:`evaluate` compares with a request; a rule's other limits are carried, not checked.
EVALUATED_LIMITS = frozenset(
    {
        LimitKind.MAX_VISITS,
        LimitKind.MAX_VISITS_PER_INJURY,
        LimitKind.INITIAL_TRIAL_VISITS,
        LimitKind.TIME_TO_EFFECT_VISITS,
        LimitKind.FREQUENCY_PER_WEEK,
        LimitKind.DURATION_WEEKS,
        LimitKind.DURATION_MONTHS,
        LimitKind.MAX_USE_WEEKS,
        LimitKind.MAX_USE_DAYS,
    }
)


class Evidence(BaseModel):
    """Words of the clinical summary that decided a criterion, and where they are in it."""

    model_config = ConfigDict(frozen=True)

    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class Criterion(BaseModel):
    """One criterion of one rule and how the case meets it: ``label`` names it in plain words,
    ``detail`` says in plain words what was found (or, when not assessed, why not)."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    criterion: str
    label: str
    kind: Literal["recommendation", "limit", "condition"]
    role: str
    status: Status
    detail: str
    evidence: tuple[Evidence, ...] = ()
    verified: bool = False


@cache
def _condition_queries() -> dict[str, list[dict[str, str]]]:
    text = resources.files("openimr.core.review").joinpath("data/criteria.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _matching(facts: Facts, query: dict[str, str]) -> list[Fact]:
    return [
        f
        for f in facts.of(query["kind"])  # type: ignore[arg-type]
        if ("value" not in query or f.value == query["value"])
        and ("qualifier" not in query or f.qualifier == query["qualifier"])
    ]


def _quote(fact: Fact) -> Evidence:
    return Evidence(text=fact.snippet, start=fact.start, end=fact.end)


def condition_status(condition_id: str, facts: Facts) -> tuple[Status, tuple[Evidence, ...]]:
    """Whether the record shows *condition_id*, and the quoted spans that say so."""
    queries = _condition_queries().get(condition_id)
    if queries is None:
        return "not_assessed", ()
    found = [f for q in queries for f in _matching(facts, q)]
    affirmed = [f for f in found if f.affirmed]
    if affirmed:
        return "met", tuple(_quote(f) for f in affirmed[:3])
    negated = [f for f in found if f.negated]
    if negated:
        return "unmet", tuple(_quote(f) for f in negated[:3])
    return "not_documented", ()


def prior_sessions(request: Request, facts: Facts) -> tuple[bool, int | None, tuple[Evidence, ...]]:
    """Whether the record shows earlier sessions of the requested therapy, their count, evidence."""
    therapy = THERAPY_OF.get(request.category)
    if therapy is None:
        return False, None, ()
    found = facts.prior_sessions(therapy)
    return bool(found), facts.prior_session_count(therapy), tuple(_quote(f) for f in found[:2])


def _limit_value(limit: Limit) -> float:
    return limit.max if limit.max is not None else limit.min  # type: ignore[return-value]


_UNITS = {"months": " months", "weeks": " weeks", "days": " days", "per_week": " a week"}


def _limit_detail(limit: Limit) -> str:
    both = limit.min is not None and limit.max is not None
    span = f"{limit.min:g}-{limit.max:g}" if both else f"{_limit_value(limit):g}"
    unit = next((u for suffix, u in _UNITS.items() if limit.kind.value.endswith(suffix)), "")
    flag = "" if limit.verified else " [unverified figure]"
    return f"{span}{unit}{flag}"


def _check(
    rule: Rule, kind: LimitKind, requested: float | None, what: str, factor: float = 1.0
) -> Criterion | None:
    limit = rule.limit(kind)
    if limit is None:
        return None
    allowed = _limit_value(limit) * factor
    status: Status
    if requested is None:
        status, detail = "not_documented", f"{what} not stated in the request (limit {_limit_detail(limit)})"
    else:
        status = "met" if requested <= allowed + 1e-9 else "unmet"
        word = "within" if status == "met" else "exceeds"
        detail = f"{what} {requested:g} {word} the limit of {_limit_detail(limit)}"
    return Criterion(
        rule_id=rule.id,
        criterion=kind.value,
        label=what,
        kind="limit",
        role="required",
        status=status,
        detail=detail,
        verified=limit.verified,
    )


def _visit_limits(rule: Rule, request: Request, continuation: bool, prior: int | None) -> list[Criterion]:
    out: list[Criterion] = []
    if continuation:
        total = None if request.sessions is None or prior is None else request.sessions + prior
        checks = [(LimitKind.MAX_VISITS, total, "prior plus requested visits")]
        checks.append((LimitKind.MAX_VISITS_PER_INJURY, total, "prior plus requested visits"))
    else:
        trial = (
            LimitKind.INITIAL_TRIAL_VISITS
            if rule.limit(LimitKind.INITIAL_TRIAL_VISITS)
            else (
                LimitKind.TIME_TO_EFFECT_VISITS
                if rule.limit(LimitKind.TIME_TO_EFFECT_VISITS)
                else LimitKind.MAX_VISITS
            )
        )
        checks = [(trial, request.sessions, "requested visits")]
    checks.append((LimitKind.FREQUENCY_PER_WEEK, request.frequency_per_week, "visits per week"))
    for kind, value, what in checks:
        if (c := _check(rule, kind, value, what)) is not None:
            out.append(c)
    weeks = request.duration_weeks
    if (c := _check(rule, LimitKind.DURATION_WEEKS, weeks, "weeks")) is not None or (
        c := _check(rule, LimitKind.DURATION_MONTHS, weeks, "weeks", WEEKS_PER_MONTH)
    ) is not None:
        out.append(c)
    return out


def _medication_duration(rule: Rule, request: Request, facts: Facts) -> Criterion | None:
    limit = rule.limit(LimitKind.MAX_USE_WEEKS) or rule.limit(LimitKind.MAX_USE_DAYS)
    drug_class = request.drug.drug_class if request.drug else None
    if limit is None or drug_class is None:
        return None
    days_allowed = _limit_value(limit) * (7 if limit.kind is LimitKind.MAX_USE_WEEKS else 1)
    used = facts.medication_days(drug_class)
    taking = facts.medications(drug_class)
    if used is None:
        status: Status = "not_documented"
        detail = f"how long the {drug_class} has been used is not stated (limit {_limit_detail(limit)})"
    else:
        status = "met" if used <= days_allowed else "unmet"
        detail = f"{drug_class} used for about {used} days against a limit of {_limit_detail(limit)}"
    return Criterion(
        rule_id=rule.id,
        criterion=limit.kind.value,
        label=f"how long the {drug_class} has been used",
        kind="limit",
        role="required",
        status=status,
        detail=detail,
        evidence=tuple(_quote(f) for f in taking[:2]),
        verified=limit.verified,
    )


def evaluate(rule: Rule, request: Request, facts: Facts) -> list[Criterion]:
    """Every criterion of *rule* for this request and record."""
    out: list[Criterion] = []
    if rule.recommendation is Recommendation.NOT_RECOMMENDED:
        out.append(
            Criterion(
                rule_id=rule.id,
                criterion="recommended",
                label="a treatment the guideline recommends",
                kind="recommendation",
                role="required",
                status="unmet",
                detail=f"{rule.title}: not recommended by {rule.citation.regulation}",
                verified=rule.verification.status.value == "verified",
            )
        )
    continuation, prior, prior_evidence = prior_sessions(request, facts)
    if request.category in VISIT_CATEGORIES:
        out.extend(_visit_limits(rule, request, continuation, prior))
        if continuation:
            out.append(
                Criterion(
                    rule_id=rule.id,
                    criterion="prior_sessions",
                    label="earlier sessions of this therapy",
                    kind="condition",
                    role="supporting",
                    status="met",
                    detail="earlier sessions of this therapy"
                    + (f": {prior} documented" if prior is not None else " are documented"),
                    evidence=prior_evidence,
                )
            )
    if (c := _medication_duration(rule, request, facts)) is not None:
        out.append(c)
    for cond in rule.conditions:
        if cond.role is Role.FOR_CONTINUATION and not (continuation or request.category == "drug"):
            continue
        status, evidence = condition_status(cond.id, facts)
        if status == "not_assessed" and cond.role is Role.SUPPORTING:
            continue
        out.append(
            Criterion(
                rule_id=rule.id,
                criterion=cond.id,
                label=load_rules().conditions[cond.id].label,
                kind="condition",
                role=cond.role.value,
                status=status,
                detail=cond.note or cond.id.replace("_", " "),
                evidence=evidence,
            )
        )
    return out
