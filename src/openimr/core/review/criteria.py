"""Evaluating a rule's criteria (numeric limits and conditions) against a request and the record.

Each criterion comes out met, unmet, not documented or not assessed, with the evidence (the
text spans of the facts) that decided it. Numbers come only from the rules file, with their
verification status; nothing here invents a limit. Every limit and condition of the rule comes
out as a criterion: what the engine cannot read from the request or the record is "not
assessed", with the reason in ``detail``. A criterion that does not bear on this request (a
continuation criterion for a first course, an initial-trial limit for a continuation) is listed as
a ``supporting`` one, not assessed, so it neither blocks nor carries the decision.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from openimr.core.facts.models import Fact, Facts
from openimr.core.guidelines.rules import Condition, Limit, LimitKind, Recommendation, Role, Rule, load_rules
from openimr.core.requests import Request
from openimr.core.requests.quantities import hours_per_week, injections_named, levels_named, period_weeks
from openimr.core.yamlfile import package_yaml

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
# The limit kinds :func:`evaluate` compares with the request or the record when they state the
# quantity; a rule's other limits come out "not assessed" (see NOT_READ).
EVALUATED_LIMITS = frozenset(LimitKind) - {
    LimitKind.PAIN_RELIEF_PERCENT,
    LimitKind.RELIEF_DURATION_WEEKS,
}
# Why a limit of a kind the engine does not compare is not assessed.
NOT_READ = {
    LimitKind.PAIN_RELIEF_PERCENT: "the record's percentage of pain relief from earlier treatment is not"
    " read by the engine",
    LimitKind.RELIEF_DURATION_WEEKS: "how long earlier treatment relieved the pain is not read by the engine",
}
# Plain-words names of the limits.
LIMIT_LABELS = {
    LimitKind.INITIAL_TRIAL_VISITS: "visits of the initial trial",
    LimitKind.INITIAL_TRIAL_WEEKS: "weeks of the initial trial",
    LimitKind.TIME_TO_EFFECT_VISITS: "visits within which the treatment should show an effect",
    LimitKind.FREQUENCY_PER_WEEK: "visits per week",
    LimitKind.DURATION_WEEKS: "weeks of treatment",
    LimitKind.DURATION_MONTHS: "months of treatment",
    LimitKind.MAX_VISITS: "total visits",
    LimitKind.MAX_VISITS_PER_INJURY: "visits allowed for the injury",
    LimitKind.TREATMENT_PERIOD_MONTHS: "months after the operation within which treatment is given",
    LimitKind.INITIAL_COURSE_FRACTION: "share of the course given as the initial course",
    LimitKind.TRIAL_MONTHS: "months of the trial",
    LimitKind.CONSERVATIVE_CARE_WEEKS: "weeks of conservative care first",
    LimitKind.SYMPTOM_DURATION_MONTHS: "months the symptoms have lasted",
    LimitKind.MAX_USE_DAYS: "days of use",
    LimitKind.MAX_USE_WEEKS: "weeks of use",
    LimitKind.PAIN_RELIEF_PERCENT: "pain relief from earlier treatment",
    LimitKind.RELIEF_DURATION_WEEKS: "weeks the earlier relief lasted",
    LimitKind.MAX_LEVELS: "spinal levels",
    LimitKind.MAX_INJECTIONS_PER_SESSION: "injections per session",
    LimitKind.MAX_HOURS_PER_WEEK: "hours of care per week",
    LimitKind.AGE_YEARS: "the patient's age",
}
# Limits that bear only on a first course, and only on a repeat or continuation.
_INITIAL_ONLY = frozenset(
    {
        LimitKind.INITIAL_TRIAL_VISITS,
        LimitKind.INITIAL_TRIAL_WEEKS,
        LimitKind.TIME_TO_EFFECT_VISITS,
        LimitKind.INITIAL_COURSE_FRACTION,
    }
)
_REPEAT_ONLY = frozenset({LimitKind.PAIN_RELIEF_PERCENT, LimitKind.RELIEF_DURATION_WEEKS})
# Limits that are thresholds to reach ("at least"), not caps.
_AT_LEAST = frozenset(
    {LimitKind.SYMPTOM_DURATION_MONTHS, LimitKind.CONSERVATIVE_CARE_WEEKS, LimitKind.AGE_YEARS}
)
_DAYS_PER_MONTH = 30.44


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
    # where the criterion's figure or statement comes from, in the rules file's words
    verification: Literal["verified", "quoted", "unverified"] | None = None
    limit: str | None = None  # a limit's figure in words ("3-6", "at least 6 weeks")
    within: float | None = None  # of a visit limit the request exceeds: how many visits it allows


@cache
def _condition_queries() -> dict[str, list[dict[str, str]]]:
    return package_yaml("openimr.core.review", "data/criteria.yaml")


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


def _threshold(limit: Limit) -> float:
    """The lenient end of a limit: the cap's upper figure, or the threshold's lower one."""
    if limit.kind in _AT_LEAST:
        return limit.min if limit.min is not None else limit.max  # type: ignore[return-value]
    return _limit_value(limit)


_UNITS = {
    "months": " months",
    "weeks": " weeks",
    "days": " days",
    "per_week": " a week",
    "years": " years",
    "percent": "%",
    "levels": " levels",
    "session": " per session",
}


def _limit_detail(limit: Limit, flagged: bool = True) -> str:
    unit = next((u for suffix, u in _UNITS.items() if limit.kind.value.endswith(suffix)), "")
    if limit.kind is LimitKind.MAX_HOURS_PER_WEEK:
        unit = " hours a week"
    least = "at least " if limit.kind in _AT_LEAST else ""
    flag = "" if limit.verified or not flagged else " [unverified figure]"
    return f"{least}{limit.figure}{unit}{flag}"


@dataclass(frozen=True)
class _Case:
    """What :func:`evaluate` knows of the request beyond the parsed fields."""

    request: Request
    facts: Facts
    text: str
    age: int | None
    day: dt.date | None
    continuation: bool
    prior: int | None


def _criterion(
    rule: Rule,
    limit: Limit,
    status: Status,
    detail: str,
    *,
    label: str | None = None,
    role: str = "required",
    kind: Literal["limit", "condition"] = "limit",
    evidence: tuple[Evidence, ...] = (),
) -> Criterion:
    return Criterion(
        rule_id=rule.id,
        criterion=limit.kind.value,
        label=label or LIMIT_LABELS[limit.kind],
        kind=kind,
        role=role,
        status=status,
        detail=detail,
        evidence=evidence,
        verified=limit.verified,
        verification=limit.verification.status.value,
        limit=_limit_detail(limit, flagged=False),
    )


def _not_assessed(rule: Rule, limit: Limit, why: str, role: str = "required") -> Criterion:
    return _criterion(rule, limit, "not_assessed", f"{why} (limit {_limit_detail(limit)})", role=role)


def _compare(
    rule: Rule,
    limit: Limit,
    value: float | None,
    what: str,
    *,
    factor: float = 1.0,
    missing: Status = "not_documented",
    why: str | None = None,
    evidence: tuple[Evidence, ...] = (),
) -> Criterion:
    """*value* (in the limit's unit times *factor*) against the limit; *missing* when it is None."""
    if value is None:
        if missing == "not_documented":
            return _criterion(
                rule,
                limit,
                "not_documented",
                f"{what} not stated in the request (limit {_limit_detail(limit)})",
            )
        return _not_assessed(rule, limit, why or f"{what} is not stated")
    allowed = _threshold(limit) * factor
    if limit.kind in _AT_LEAST:
        status: Status = "met" if value >= allowed - 1e-9 else "unmet"
        word = "reaches" if status == "met" else "falls short of"
    else:
        status = "met" if value <= allowed + 1e-9 else "unmet"
        word = "within" if status == "met" else "exceeds"
    return _criterion(
        rule, limit, status, f"{what} {value:g} {word} the limit of {_limit_detail(limit)}", evidence=evidence
    )


def _visits(rule: Rule, limit: Limit, c: _Case) -> Criterion:
    if limit.kind in _INITIAL_ONLY or not c.continuation:
        found, prior = _compare(rule, limit, c.request.sessions, "requested visits"), 0
    elif c.prior is None and c.request.sessions is not None and c.request.sessions > _threshold(limit):
        # Earlier sessions of an unknown number: the requested ones alone already exceed the cap (and
        # how many more the cap allows is unknown).
        return _compare(rule, limit, c.request.sessions, "requested visits, besides the earlier ones,")
    else:
        prior = c.prior or 0
        total = None if c.request.sessions is None or c.prior is None else c.request.sessions + c.prior
        found = _compare(rule, limit, total, "prior plus requested visits")
    if found.status != "unmet":
        return found
    return found.model_copy(update={"within": max(_threshold(limit) - prior, 0.0)})


def _other_visits(rule: Rule, limit: Limit, c: _Case) -> Criterion:
    """A visit cap for a request whose earlier sessions the engine does not read (a program)."""
    sessions = c.request.sessions
    if sessions is not None and sessions > _limit_value(limit) + 1e-9:
        return _compare(rule, limit, sessions, "requested sessions")
    why = (
        "the request does not state the number of sessions"
        if sessions is None
        else "earlier sessions of this treatment are not read by the engine"
    )
    return _not_assessed(rule, limit, why)


def _initial_fraction(rule: Rule, limit: Limit, c: _Case) -> Criterion:
    course = rule.limit(LimitKind.MAX_VISITS)
    if course is None:
        return _not_assessed(
            rule, limit, "the rule states no number of visits for the course to take a share of"
        )
    sessions = c.request.sessions
    if sessions is None:
        return _compare(rule, limit, None, "requested visits")
    share = sessions / _limit_value(course)
    status: Status = "met" if share <= _limit_value(limit) + 1e-9 else "unmet"
    word = "within" if status == "met" else "exceeds"
    detail = (
        f"requested visits {sessions} of a course of {_limit_detail(course)} {word} the share of "
        f"{_limit_detail(limit)}"
    )
    return _criterion(rule, limit, status, detail)


def _use(rule: Rule, limit: Limit, c: _Case) -> Criterion:
    days_per_unit = 7 if limit.kind is LimitKind.MAX_USE_WEEKS else 1
    request = c.request
    if request.category != "drug":
        weeks = request.duration_weeks or period_weeks(c.text)
        return _compare(
            rule,
            limit,
            None if weeks is None else weeks * 7 / days_per_unit,
            "requested days of use" if days_per_unit == 1 else "requested weeks of use",
            missing="not_assessed",
            why="the request does not state how long the equipment is to be used",
        )
    drug_class = request.drug.drug_class if request.drug else None
    if drug_class is None:
        return _not_assessed(rule, limit, "the requested drug's class is not known, so its use is not read")
    used = c.facts.medication_days(drug_class)
    label = f"how long the {drug_class} has been used"
    evidence = tuple(_quote(f) for f in c.facts.medications(drug_class)[:2])
    if used is None:
        detail = f"how long the {drug_class} has been used is not stated (limit {_limit_detail(limit)})"
        return _criterion(rule, limit, "not_documented", detail, label=label, evidence=evidence)
    status: Status = "met" if used <= _limit_value(limit) * days_per_unit else "unmet"
    detail = f"{drug_class} used for about {used} days against a limit of {_limit_detail(limit)}"
    return _criterion(rule, limit, status, detail, label=label, evidence=evidence)


def _since_operation(rule: Rule, limit: Limit, c: _Case) -> Criterion:
    day = c.day or c.request.date_of_service
    operations = [f for f in c.facts.of("surgery") if f.affirmed and f.date is not None]
    if day is not None:
        operations = [f for f in operations if f.date <= day]  # type: ignore[operator]
    if day is None:
        return _not_assessed(rule, limit, "the date of the request is not known")
    if not operations:
        return _not_assessed(rule, limit, "the record states no date of the operation")
    last = max(operations, key=lambda f: f.date)  # type: ignore[arg-type,return-value]
    months = round((day - last.date).days / _DAYS_PER_MONTH, 1)  # type: ignore[operator]
    found = _compare(rule, limit, months, "months since the operation")
    return found.model_copy(update={"evidence": (_quote(last),)})


def _symptoms(rule: Rule, limit: Limit, c: _Case) -> Criterion:
    stated = [f for f in c.facts.of("symptom_duration") if f.affirmed and f.number is not None]
    since = c.facts.days_since_injury
    if not stated:
        return _not_assessed(
            rule, limit, "the record states no duration of the symptoms that the engine reads"
        )
    longest = max(stated, key=lambda f: f.number or 0)
    months = round((longest.number or 0) / _DAYS_PER_MONTH, 1)
    if months < _threshold(limit) and since is not None and since / _DAYS_PER_MONTH >= _threshold(limit):
        return _not_assessed(
            rule,
            limit,
            f"the record states symptoms of about {months:g} months but an injury of about "
            f"{since / _DAYS_PER_MONTH:.0f} months ago; the engine does not decide which the guideline means",
        )
    return _compare(rule, limit, months, "months of symptoms", evidence=(_quote(longest),))


def _conservative(rule: Rule, limit: Limit, c: _Case) -> Criterion:
    """Weeks of conservative care first: as long as the record says failed care lasted, when it says
    ("physical therapy for 8 weeks failed"). Otherwise the care cannot have lasted longer than the
    symptoms (the longest stated duration, or the time since the injury): shorter than the limit is
    unmet; otherwise the limit is not assessed, and says why."""
    tried = [f for f in c.facts.of("failed_conservative_care") if f.affirmed and f.number]
    if tried:
        longest = max(tried, key=lambda f: f.number or 0)
        weeks = round((longest.number or 0) / 7, 1)
        return _compare(
            rule, limit, weeks, "weeks of conservative care that failed", evidence=(_quote(longest),)
        )
    spans = [f.number for f in c.facts.of("symptom_duration") if f.affirmed and f.number is not None]
    if c.facts.days_since_injury is not None:
        spans.append(c.facts.days_since_injury)
    if not spans:
        return _not_assessed(
            rule, limit, "the record states neither how long the symptoms have lasted nor when the injury was"
        )
    weeks = round(max(spans) / 7, 1)
    if weeks < _threshold(limit) - 1e-9:
        return _compare(
            rule, limit, weeks, "weeks of symptoms (the most the conservative care can have lasted)"
        )
    why = f"the symptoms have lasted about {weeks:g} weeks; how long conservative care was given is not read"
    return _not_assessed(rule, limit, why)


def _age(rule: Rule, limit: Limit, c: _Case) -> Criterion:
    """Age as a threshold; in a rule with "any of" conditions it is one of them (a risk factor)."""
    age = c.age if c.age is not None else c.facts.age
    any_of = any(cond.role is Role.ANY_OF for cond in rule.conditions)
    role = "any_of" if any_of else "required"
    if age is None:
        return _not_assessed(rule, limit, "the patient's age is not stated", role=role)
    found = _compare(rule, limit, age, "age")
    if not any_of:
        return found
    return found.model_copy(update={"kind": "condition", "role": role})


def _quantity(rule: Rule, limit: Limit, c: _Case) -> Criterion:
    """A limit on a quantity the item line states (levels, injections, hours, a trial's length)."""
    request, text = c.request, c.text
    if limit.kind is LimitKind.MAX_LEVELS:
        value, what, why = (
            levels_named(text),
            "levels requested",
            "the request does not state the number of levels",
        )
    elif limit.kind is LimitKind.MAX_INJECTIONS_PER_SESSION:
        value = injections_named(text) if request.frequency_per_week is None else None
        what, why = (
            "injections requested",
            "the request does not state the number of injections in one session",
        )
    elif limit.kind is LimitKind.MAX_HOURS_PER_WEEK:
        value = hours_per_week(text, request.frequency_per_week)
        what, why = "hours of care a week", "the request does not state the hours of care a week"
    else:  # TRIAL_MONTHS
        value = request.duration_weeks or period_weeks(text)
        what, why = "weeks of the trial", "the request does not state how long the trial is"
        if value is None and re.search(r"\bpurchase", text, re.I):
            return _not_assessed(
                rule, limit, "applies to a trial; this request is a purchase", role="supporting"
            )
        return _compare(rule, limit, value, what, factor=WEEKS_PER_MONTH, missing="not_assessed", why=why)
    return _compare(rule, limit, value, what, missing="not_assessed", why=why)


_VISIT_KINDS = frozenset(
    {
        LimitKind.MAX_VISITS,
        LimitKind.MAX_VISITS_PER_INJURY,
        LimitKind.INITIAL_TRIAL_VISITS,
        LimitKind.TIME_TO_EFFECT_VISITS,
    }
)


def _limit(rule: Rule, limit: Limit, c: _Case) -> Criterion:
    """One limit of *rule* as a criterion: compared where the request or record states the quantity."""
    kind, request = limit.kind, c.request
    visits = request.category in VISIT_CATEGORIES
    if kind in NOT_READ:
        if kind in _REPEAT_ONLY and request.category != "drug":
            return _not_assessed(
                rule, limit, f"applies to a repeat treatment; {NOT_READ[kind]}", role="supporting"
            )
        return _not_assessed(
            rule, limit, NOT_READ[kind], role="for_continuation" if kind in _REPEAT_ONLY else "required"
        )
    if kind in _INITIAL_ONLY and visits and c.continuation:
        return _not_assessed(
            rule, limit, "applies to an initial course; the record shows earlier sessions", role="supporting"
        )
    if kind in _INITIAL_ONLY and not visits and kind is not LimitKind.INITIAL_COURSE_FRACTION:
        return _not_assessed(
            rule, limit, "whether this request is an initial trial is not read by the engine"
        )
    if kind in _VISIT_KINDS:
        return _visits(rule, limit, c) if visits else _other_visits(rule, limit, c)
    if kind is LimitKind.FREQUENCY_PER_WEEK:
        return _compare(rule, limit, request.frequency_per_week, "visits per week")
    if kind in (LimitKind.DURATION_WEEKS, LimitKind.INITIAL_TRIAL_WEEKS):
        return _compare(rule, limit, request.duration_weeks, "weeks")
    if kind is LimitKind.DURATION_MONTHS:
        return _compare(rule, limit, request.duration_weeks, "weeks", factor=WEEKS_PER_MONTH)
    if kind is LimitKind.INITIAL_COURSE_FRACTION:
        if not visits:
            return _not_assessed(
                rule, limit, "whether this request is an initial course is not read by the engine"
            )
        return _initial_fraction(rule, limit, c)
    if kind in (LimitKind.MAX_USE_DAYS, LimitKind.MAX_USE_WEEKS):
        return _use(rule, limit, c)
    if kind is LimitKind.TREATMENT_PERIOD_MONTHS:
        return _since_operation(rule, limit, c)
    if kind is LimitKind.SYMPTOM_DURATION_MONTHS:
        return _symptoms(rule, limit, c)
    if kind is LimitKind.AGE_YEARS:
        return _age(rule, limit, c)
    if kind is LimitKind.CONSERVATIVE_CARE_WEEKS:
        return _conservative(rule, limit, c)
    return _quantity(rule, limit, c)


def _condition(rule: Rule, cond: Condition, c: _Case) -> Criterion:
    vocabulary = load_rules().conditions[cond.id]
    label, detail = vocabulary.label, (cond.note or vocabulary.description).rstrip(".")
    role = cond.role.value
    if cond.role is Role.FOR_CONTINUATION and not (c.continuation or c.request.category == "drug"):
        first = (
            "the record shows no earlier sessions of this therapy"
            if c.request.category in VISIT_CATEGORIES
            else "whether this request continues a course is not read by the engine for this treatment"
        )
        return Criterion(
            rule_id=rule.id,
            criterion=cond.id,
            label=label,
            kind="condition",
            role="supporting",
            status="not_assessed",
            detail=f"applies only to continuing a course; {first}",
        )
    status, evidence = condition_status(cond.id, c.facts)
    if status == "not_assessed":
        detail = "the engine does not read this from the record"
    return Criterion(
        rule_id=rule.id,
        criterion=cond.id,
        label=label,
        kind="condition",
        role=role,
        status=status,
        detail=detail,
        evidence=evidence,
        verification=rule.verification.status.value,
    )


def evaluate(
    rule: Rule,
    request: Request,
    facts: Facts,
    *,
    text: str | None = None,
    age: int | None = None,
    day: dt.date | None = None,
) -> list[Criterion]:
    """Every criterion of *rule* for this request and record: one per limit and per condition
    (plus "recommended" for a treatment the rule does not recommend, and the earlier sessions of a
    continued therapy). *text* is the item line (levels, injections, hours of care, a trial's
    length), *age* the claimant's age when the case states it (else the summary's), *day* the
    date whose rules apply (for the time since an operation)."""
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
                verification=rule.verification.status.value,
            )
        )
    continuation, prior, prior_evidence = prior_sessions(request, facts)
    c = _Case(request, facts, text or "", age, day, continuation, prior)
    out.extend(_limit(rule, limit, c) for limit in rule.limits)
    if request.category in VISIT_CATEGORIES and continuation:
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
    out.extend(_condition(rule, cond, c) for cond in rule.conditions)
    return out
