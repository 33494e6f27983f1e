"""Nothing in the rules data is silently ignored: every limit and condition of every rule comes out
of ``evaluate`` as a criterion, evaluated or "not assessed" with why; ``applies_to.diagnoses`` counts."""

from __future__ import annotations

import datetime as dt

import pytest

from openimr.core.facts.models import Fact, Facts
from openimr.core.guidelines.rules import (
    AppliesTo,
    Limit,
    LimitKind,
    Role,
    Rule,
    Status,
    Verification,
    load_rules,
    rules_for,
)
from openimr.core.requests import Request, parse
from openimr.core.requests.quantities import hours_per_week, injections_named, levels_named
from openimr.core.review.analysis import support_score
from openimr.core.review.criteria import EVALUATED_LIMITS, NOT_READ, Criterion, evaluate
from openimr.core.review.governing import candidate_rules

RULES = load_rules().rules
STATUSES = {"met", "unmet", "not_documented", "not_assessed"}
# An item line of each category, as an application might word it.
ITEMS = {
    "physical_therapy": "Physical therapy 2 times a week for 6 weeks for the lumbar spine",
    "occupational_therapy": "Occupational therapy 2x4 for the right wrist",
    "chiropractic": "Chiropractic treatment 2 times a week for 3 weeks for the lumbar spine",
    "acupuncture": "Acupuncture 2 times a week for 3 weeks for the low back",
    "massage": "Massage therapy x 6 sessions",
    "psychological": "Cognitive behavioral therapy x 4 sessions",
    "program": "Functional restoration program x 10 days",
    "home_health": "Home health aide 4 hours a day 5 days a week",
    "electrotherapy": "TENS unit 30 day trial",
    "dme": "Cold therapy unit rental x 14 days",
    "injection": "Lumbar epidural steroid injection at L4-5, L5-S1",
    "imaging": "MRI of the lumbar spine",
    "diagnostic_test": "EMG/NCV of the bilateral lower extremities",
    "lab": "Urine drug screen",
    "consultation": "Consultation with a spine surgeon",
    "evaluation": "Follow-up office visit",
    "surgery": "Right shoulder arthroscopy",
}
PRIOR = Fact(
    kind="prior_therapy", value="physical_therapy", number=12, start=0, end=9, snippet="12 PT visits"
)


def _item(rule: Rule) -> str:
    category = rule.applies_to.categories[0]
    if category == "drug":
        members = load_rules().drug_classes[rule.applies_to.drug_classes[0]].members
        return f"{members[0]} 10mg #60"
    keyword = rule.applies_to.keywords[0] if rule.applies_to.keywords else ""
    return f"{keyword} {ITEMS[category]}".strip()


def _request(rule: Rule, text: str) -> Request:
    request = parse(text)
    if request.category not in rule.applies_to.categories:
        request = request.model_copy(update={"category": rule.applies_to.categories[0]})
    return request


def _ids(criteria: list[Criterion]) -> set[str]:
    return {c.criterion for c in criteria}


# ---------------------------------------------------------------- what the data uses


def test_the_data_uses_these_kinds_roles_conditions_and_scopes_and_the_engine_knows_each():
    kinds = {lim.kind for r in RULES for lim in r.limits}
    roles = {c.role for r in RULES for c in r.conditions}
    conditions = {c.id for r in RULES for c in r.conditions}
    scopes = {name for r in RULES for name in AppliesTo.model_fields if getattr(r.applies_to, name)}
    assert kinds <= set(LimitKind) and roles == set(Role)
    assert conditions <= set(load_rules().conditions)
    # Every limit kind is either compared or named with the reason it is not read.
    assert kinds <= EVALUATED_LIMITS | set(NOT_READ) and not EVALUATED_LIMITS & set(NOT_READ)
    # Every scope field the data sets is read by rule selection (diagnoses included).
    assert "diagnoses" in scopes
    assert scopes <= {"categories", "drug_classes", "body_regions", "keywords", "diagnoses", "postoperative"}


@pytest.mark.parametrize("facts", [Facts(), Facts(facts=[PRIOR])], ids=["first-course", "continuation"])
@pytest.mark.parametrize("rule", [r for r in RULES if r.limits or r.conditions], ids=lambda r: r.id)
def test_every_limit_and_condition_of_a_rule_comes_out_as_a_criterion(rule: Rule, facts: Facts):
    text = _item(rule)
    request = _request(rule, text)
    if facts.facts and request.category in ("occupational_therapy", "chiropractic", "acupuncture"):
        prior = PRIOR.model_copy(update={"value": request.category})
        facts = Facts(facts=[prior])
    criteria = evaluate(rule, request, facts, text=text, day=dt.date(2016, 6, 1))
    wanted = {lim.kind.value for lim in rule.limits} | {c.id for c in rule.conditions}
    assert wanted <= _ids(criteria), f"ignored: {sorted(wanted - _ids(criteria))}"
    for c in criteria:
        assert c.status in STATUSES
        assert c.label and "_" not in c.label and c.rule_id not in c.label
        if c.status == "not_assessed":
            assert c.detail.strip(), c
        if c.criterion in {lim.kind.value for lim in rule.limits}:
            assert c.verified == rule.limit(c.criterion).verified


def test_a_supporting_condition_the_engine_does_not_read_is_listed_not_dropped():
    rule = next(r for r in RULES if r.id == "acupuncture-9792.24.1")
    text = ITEMS["acupuncture"]
    found = {c.criterion: c for c in evaluate(rule, parse(text), Facts(), text=text)}
    c = found["pain_medication_reduced_or_not_tolerated"]
    assert (c.role, c.status) == ("supporting", "not_assessed")
    assert "does not read" in c.detail


def test_a_continuation_criterion_of_a_first_course_is_listed_as_not_bearing_on_it():
    rule = next(r for r in RULES if r.id == "cpmtg-massage")
    acupuncture = next(r for r in RULES if r.id == "acupuncture-low-back-acoem-2016")
    text = ITEMS["acupuncture"]
    c = next(c for c in evaluate(acupuncture, parse(text), Facts()) if c.criterion.startswith("documented"))
    assert (c.role, c.status) == ("supporting", "not_assessed") and "continuing" in c.detail
    assert rule.conditions  # the massage rule's own condition is still there
    assert "adjunct_to_active_therapy" in _ids(evaluate(rule, parse(ITEMS["massage"]), Facts()))


# ---------------------------------------------------------------- newly evaluated kinds


def _rule(rule_id: str) -> Rule:
    return next(r for r in RULES if r.id == rule_id)


def _one(criteria: list[Criterion], kind: LimitKind) -> Criterion:
    return next(c for c in criteria if c.criterion == kind.value)


def _with_limits(rule_id: str, *limits: tuple[LimitKind, float | None, float | None]) -> Rule:
    """*rule_id* holding limits (kind, min, max) whose figures are made up for the test: the shipped
    rules no longer encode these (no stored source gives them), but the engine still reads the kind."""
    made_up = Verification(
        status=Status.UNVERIFIED, source="test", locator="test", evidence="a figure made up for the test"
    )
    return _rule(rule_id).model_copy(
        update={"limits": tuple(Limit(kind=k, min=lo, max=hi, verification=made_up) for k, lo, hi in limits)}
    )


ESI = (LimitKind.MAX_LEVELS, None, 2)


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Transforaminal ESI at L3-4, L4-5 and L5-S1", "unmet"),
        ("Transforaminal ESI at L4-5, L5-S1", "met"),
        ("Transforaminal ESI at L3-S1", "unmet"),
    ],
)
def test_levels_requested_are_compared_with_the_rules_maximum(text: str, status: str):
    rule = _with_limits("cpmtg-epidural-steroid-injections", ESI)
    c = _one(evaluate(rule, parse(text), Facts(), text=text), LimitKind.MAX_LEVELS)
    assert c.status == status and c.kind == "limit"
    assert f"{rule.limit(LimitKind.MAX_LEVELS).max:g}" in c.detail


def test_levels_the_request_does_not_state_are_not_assessed_with_why():
    rule = _with_limits("cpmtg-epidural-steroid-injections", ESI)
    c = _one(evaluate(rule, parse("Lumbar ESI"), Facts(), text="Lumbar ESI"), LimitKind.MAX_LEVELS)
    assert c.status == "not_assessed" and "does not state the number of levels" in c.detail


def test_injections_hours_and_initial_trial_weeks_are_compared():
    tpi = _with_limits("cpmtg-trigger-point-injections", (LimitKind.MAX_INJECTIONS_PER_SESSION, 3, 4))
    many = _one(
        evaluate(tpi, parse("TPI x 6"), Facts(), text="TPI x 6"), LimitKind.MAX_INJECTIONS_PER_SESSION
    )
    few = _one(evaluate(tpi, parse("TPI x 2"), Facts(), text="TPI x 2"), LimitKind.MAX_INJECTIONS_PER_SESSION)
    assert (many.status, few.status) == ("unmet", "met")
    home = _with_limits("cpmtg-home-health", (LimitKind.MAX_HOURS_PER_WEEK, None, 35))
    text = "Home health aide 8 hours a day 7 days a week"
    assert (
        _one(evaluate(home, parse(text), Facts(), text=text), LimitKind.MAX_HOURS_PER_WEEK).status == "unmet"
    )
    text = ITEMS["home_health"]
    assert _one(evaluate(home, parse(text), Facts(), text=text), LimitKind.MAX_HOURS_PER_WEEK).status == "met"
    cbt = _with_limits("cpmtg-behavioral-interventions", (LimitKind.INITIAL_TRIAL_WEEKS, None, 2))
    request = parse("Cognitive behavioral therapy 1 time a week for 4 weeks")
    assert _one(evaluate(cbt, request, Facts()), LimitKind.INITIAL_TRIAL_WEEKS).status == "unmet"
    prior = PRIOR.model_copy(update={"value": "psychotherapy"})
    later = _one(evaluate(cbt, request, Facts(facts=[prior])), LimitKind.INITIAL_TRIAL_WEEKS)
    assert (later.status, later.role) == ("not_assessed", "supporting")


def test_time_since_the_operation_is_compared_with_the_treatment_period():
    rule = _rule("postsurgical-meniscectomy")
    surgery = Fact(
        kind="surgery",
        value="meniscectomy",
        date=dt.date(2015, 1, 10),
        start=0,
        end=12,
        snippet="meniscectomy",
    )
    request = parse("Post-op physical therapy 2x6 for the right knee")
    late = evaluate(rule, request, Facts(facts=[surgery]), day=dt.date(2015, 11, 1))
    soon = evaluate(rule, request, Facts(facts=[surgery]), day=dt.date(2015, 3, 1))
    unknown = evaluate(rule, request, Facts(), day=dt.date(2015, 3, 1))
    assert _one(late, LimitKind.TREATMENT_PERIOD_MONTHS).status == "unmet"
    assert _one(soon, LimitKind.TREATMENT_PERIOD_MONTHS).status == "met"
    assert _one(unknown, LimitKind.TREATMENT_PERIOD_MONTHS).status == "not_assessed"


def test_age_is_one_of_the_gi_risk_factors_and_a_missing_age_is_not_assessed():
    rule = _with_limits("cpmtg-gi-prophylaxis", (LimitKind.AGE_YEARS, 65, None))
    request = parse("Omeprazole 20mg #30")
    old = _one(evaluate(rule, request, Facts(), age=70), LimitKind.AGE_YEARS)
    young = _one(evaluate(rule, request, Facts(), age=40), LimitKind.AGE_YEARS)
    assert (old.status, old.role, young.status) == ("met", "any_of", "unmet")
    assert _one(evaluate(rule, request, Facts()), LimitKind.AGE_YEARS).status == "not_assessed"


def test_symptom_duration_is_compared_and_unread_durations_say_why():
    rule = _with_limits(
        "cpmtg-trigger-point-injections",
        (LimitKind.SYMPTOM_DURATION_MONTHS, 3, None),
        (LimitKind.PAIN_RELIEF_PERCENT, 50, None),
    )
    long = Fact(
        kind="symptom_duration", value="for 6 months", number=180, start=0, end=12, snippet="for 6 months"
    )
    c = _one(evaluate(rule, parse("TPI x 2"), Facts(facts=[long])), LimitKind.SYMPTOM_DURATION_MONTHS)
    assert c.status == "met"
    c = _one(evaluate(rule, parse("TPI x 2"), Facts()), LimitKind.PAIN_RELIEF_PERCENT)
    assert c.status == "not_assessed" and "percentage of pain relief" in c.detail


def test_conservative_care_weeks_are_unmet_only_when_the_symptoms_are_younger_than_the_limit():
    """The record does not state how long conservative care lasted; it cannot exceed the symptoms."""
    neck = _rule("acoem-neck-imaging")  # "a three or four week period of conservative care" (quoted)
    mri = parse("MRI of the cervical spine")

    def care(*facts: Fact) -> Criterion:
        return _one(evaluate(neck, mri, Facts(facts=list(facts))), LimitKind.CONSERVATIVE_CARE_WEEKS)

    def injury(weeks: int) -> Fact:
        return Fact(kind="time_since_injury", value="", number=weeks * 7, start=0, end=6, snippet="injury")

    unknown = care()
    assert unknown.status == "not_assessed" and "how long the symptoms have lasted" in unknown.detail
    early = care(injury(2))
    assert early.status == "unmet" and early.verified
    assert "falls short of the limit of at least 3-4 weeks" in early.detail
    later = care(injury(10))
    assert (
        later.status == "not_assessed" and "how long conservative care was given is not read" in later.detail
    )
    # The longest span counts: two weeks of stated symptoms after an injury ten weeks ago is not unmet.
    stated = Fact(kind="symptom_duration", value="2 weeks", number=14, start=0, end=7, snippet="2 weeks")
    assert care(stated, injury(10)).status == "not_assessed" and care(stated).status == "unmet"


def test_a_contraindication_the_record_affirms_is_met_and_weighs_against():
    rule = _rule("cpmtg-nsaids")
    risk = Fact(kind="gi_risk", value="ulcer", start=0, end=5, snippet="ulcer")
    request = parse("Naproxen 550mg #60")
    with_risk = evaluate(rule, request, Facts(facts=[risk]))
    without = evaluate(rule, request, Facts())
    c = next(c for c in with_risk if c.criterion == "gi_risk_factors")
    assert (c.role, c.status) == ("contraindication", "met")
    assert support_score(with_risk) < support_score(without)


# ---------------------------------------------------------------- diagnoses


def test_a_rule_restricted_to_diagnoses_is_not_chosen_when_the_record_shows_another():
    neuralgia = "Lumbar radiculopathy with sciatica since the injury."
    found = [r.id for r in rules_for("physical_therapy", postoperative=False, diagnoses=neuralgia)]
    assert "cpmtg-physical-medicine-neuralgia" in found
    assert "cpmtg-physical-medicine-myalgia" not in found and "cpmtg-physical-medicine-crps" not in found
    unknown = [r.id for r in rules_for("physical_therapy", postoperative=False, diagnoses="Low back pain.")]
    assert {"cpmtg-physical-medicine-myalgia", "cpmtg-physical-medicine-neuralgia"} <= set(unknown)
    item = "Physical therapy 2x4 for the lumbar spine"
    chosen = candidate_rules(parse(item), item, None, "Lumbar strain; no radicular signs were noted.")
    assert "cpmtg-physical-medicine-neuralgia" not in [r.id for r in chosen]


def test_a_postsurgical_rule_follows_the_operation_the_record_names():
    item = "Post-operative physical therapy 2x6 for the right knee"
    chosen = candidate_rules(parse(item), item, None, "She is status post right total knee arthroplasty.")
    ids = [r.id for r in chosen]
    assert ids[0] == "postsurgical-knee-arthroplasty"
    assert "postsurgical-meniscectomy" not in ids and "postsurgical-acl" not in ids


# ---------------------------------------------------------------- the request helpers


def test_the_quantity_helpers_read_levels_injections_and_hours():
    assert levels_named("L4-5, L5-S1") == 2 and levels_named("C5-C6 and C6-7") == 2
    assert levels_named("L3-S1") == 3 and levels_named("two level ESI") == 2 and levels_named("ESI") is None
    assert injections_named("4 trigger point injections") == 4 and injections_named("TPI") is None
    assert hours_per_week("4 hours a day", 5) == 20 and hours_per_week("4 hours a day", None) is None


# --- the right chapter: region-scoped rules only for items in their region ---------------------


@pytest.mark.parametrize(
    "item",
    [
        "Electroencephalogram",
        "Labs to include: EKG",
        "standard wheelchair for a 2 month rental",
        "purchase of a bedside 3 in 1 commode",
        "Large gloves",
        "Functional capacity evaluation (FCE)",
        "Associated surgical service: Cryotherapy unit, seven day rental",
    ],
)
@pytest.mark.parametrize("day", [dt.date(2016, 6, 1), dt.date(2026, 6, 1)])
def test_an_item_naming_no_region_gets_no_region_scoped_chapter(item: str, day: dt.date):
    request = parse(item)
    assert not request.body_parts
    assert not [r.id for r in candidate_rules(request, item, day) if r.applies_to.body_regions]


def test_a_region_scoped_chapter_still_governs_an_item_in_its_region():
    item = "MRI of the cervical spine"
    ids = [r.id for r in candidate_rules(parse(item), item, dt.date(2026, 6, 1))]
    assert "acoem-cervical-2018" in ids
    knee = "MRI of the right knee"
    assert "acoem-cervical-2018" not in [
        r.id for r in candidate_rules(parse(knee), knee, dt.date(2026, 6, 1))
    ]


def test_guidelines_check_fails_on_a_region_scoped_rule_matched_outside_its_region(monkeypatch):
    from typer.testing import CliRunner

    from openimr.cli import app
    from openimr.core.review import governing

    assert governing.out_of_region(None) == []
    assert CliRunner().invoke(app, ["guidelines", "check"]).exit_code == 0
    monkeypatch.setattr(governing, "in_region", lambda rule, request: True)
    problems = governing.out_of_region(None)
    assert any("'Electroencephalogram'" in p and "no body region" in p for p in problems)
    result = CliRunner().invoke(app, ["guidelines", "check"])
    assert result.exit_code == 1 and "is matched to 'Electroencephalogram'" in result.output


# --- every limit: the Labor Code 4604.5 visit cap ------------------------------------------------


def _cap(item: str, summary: str) -> tuple[list[Criterion], object]:
    from openimr.core.case import Case, DisputedItem
    from openimr.core.review.engine import review_case

    case = Case(
        case_number="CM99-0000011",
        clinical_summary=summary,
        ur_denial_date="2016-11-20",
        disputed_items=[DisputedItem(item=item)],
    )
    (review,) = review_case(case).items
    return [c for c in review.criteria if c.rule_id == "lc4604.5-visit-cap"], review


@pytest.mark.parametrize(
    ("item", "summary", "status"),
    [
        (
            "Physical therapy 2 times a week for 6 weeks, lumbar spine",
            "He has had 20 sessions of physical therapy.",
            "unmet",
        ),
        ("Chiropractic 30 visits for the low back", "He has had chiropractic care.", "unmet"),
        (
            "Occupational therapy 6 sessions for the right wrist",
            "She completed 8 sessions of occupational therapy.",
            "met",
        ),
    ],
)
def test_the_statutory_visit_cap_is_evaluated_where_the_visits_are_known(
    item: str, summary: str, status: str
):
    (cap,), review = _cap(item, summary)
    assert cap.status == status and cap.criterion == "max_visits_per_injury"
    if status == "unmet":
        assert cap.role == "required" and review.recommendation == "Upheld"
        assert review.decisive_reason and review.decisive_reason.code == "exceeds_limits"
    else:
        assert cap.role == "supporting"  # within the cap carries nothing on its own


def test_the_visit_cap_does_not_apply_to_postsurgical_therapy_or_acupuncture():
    cap, _ = _cap(
        "Post-op physical therapy 24 sessions for the knee", "Status post knee arthroscopy on 10-1-2016."
    )
    assert cap == []
    cap, _ = _cap("Acupuncture 30 sessions for the low back", "He has had 10 acupuncture visits.")
    assert cap == []
