"""The recommendation follows the guideline assessment; the draft rationale concludes with it.

Checked on every dev item and on generated criteria: no guideline-based recommendation goes
against its own criteria, every decisive reason points the recommendation's way, and the draft
rationale's conclusion (read as the scorer reads it) is the recommendation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openimr.core.case import Case, DisputedItem, case_from_letter
from openimr.core.guidelines import load_rules
from openimr.core.models import Decision, ReasonCode
from openimr.core.requests import parse as parse_request
from openimr.core.review.analysis import ItemAnalysis
from openimr.core.review.assessment import against, assess, decide
from openimr.core.review.criteria import Criterion, Evidence
from openimr.core.review.engine import ItemReview, review_case
from openimr.core.review.governing import NON_MTUS, Governing
from openimr.core.review.rationale import draft_rationale
from openimr.core.review.train import load_records

UPHELD = {c for c in ReasonCode if c.decision is Decision.UPHELD}
_RULE_IDS = re.compile("|".join(rf"\b{re.escape(r.id)}\b" for r in load_rules().rules))


def conclusion(text: str | None) -> str | None:
    """The scorer's reading (../shared/tools/score_review.py) of a rationale's last 'medically
    necessary' sentence, restated here on purpose: the test holds the engine to that reading."""
    if not text:
        return None
    hits = [s for s in re.split(r"(?<=[.!?])\s+", text) if re.search(r"medically\s+necessary", s, re.I)]
    if not hits:
        return None
    s = hits[-1].lower()
    return (
        "Upheld"
        if re.search(r"\b(not|un)\s*medically\s+necessary|is not\b|are not\b|cannot be", s)
        else "Overturned"
    )


def check_item(item: ItemReview) -> None:
    """Every promise the review makes about one item."""
    assert conclusion(item.draft_rationale) == item.recommendation, item.draft_rationale
    reason = item.decisive_reason
    assert reason is not None
    assert (reason.code in UPHELD) == (item.recommendation == Decision.UPHELD), (item.item, reason)
    if item.basis == "guideline":
        if item.recommendation == Decision.OVERTURNED:
            assert not [c for c in item.criteria if against(c)], item.item
        else:
            assert not all(c.status == "met" for c in item.criteria), item.item
            assert reason.criterion is not None
            (carrying,) = [c for c in item.criteria if f"{c.rule_id} / {c.criterion}" == reason.criterion]
            group = [c for c in item.criteria if c.role == "any_of"]
            assert against(carrying) or (carrying in group and not any(c.status == "met" for c in group))
            assert carrying.label in (item.draft_rationale or "") or carrying.detail.rstrip(".")[1:] in (
                item.draft_rationale or ""
            )
    for text in (item.draft_rationale or "", *item.hints):
        assert "(chars" not in text and not _RULE_IDS.search(text), text
    for c in item.criteria:
        assert "_" not in c.label, c.label
    if any(against(c) for c in item.criteria if c.kind == "condition" and c.role != "contraindication"):
        assert item.hints


@pytest.fixture(scope="module")
def dev_reviews(gold_path: Path) -> list[ItemReview]:
    return [i for r in load_records(gold_path) for i in review_case(case_from_letter(r)).items]


def test_every_dev_item_keeps_every_promise(dev_reviews: list[ItemReview]) -> None:
    assert len(dev_reviews) == 258
    for item in dev_reviews:
        check_item(item)
    # Both bases occur on real letters: the criteria decide some items, the model the rest.
    assert {i.basis for i in dev_reviews} == {"guideline", "statistical"}


SUMMARY = (
    "A 52 year old man injured his neck at work. He has had 12 sessions of physical therapy; there was "
    "no functional improvement documented. Utilization review denied the request."
)


def review_one(item: str, summary: str = SUMMARY) -> ItemReview:
    case = Case(
        case_number="CM99-0000009",
        clinical_summary=summary,
        ur_denial_date="2016-11-20",
        disputed_items=[DisputedItem(item=item)],
    )
    (out,) = review_case(case).items
    check_item(out)
    return out


def test_an_exceeded_limit_upholds_and_the_rationale_says_why() -> None:
    out = review_one("Acupuncture 2 times a week for 6 weeks for the neck")
    assert out.basis == "guideline" and out.recommendation == Decision.UPHELD
    assert out.decisive_reason and out.decisive_reason.code == ReasonCode.EXCEEDS_LIMITS
    assert "12" in (out.draft_rationale or "") and "not medically necessary" in (out.draft_rationale or "")
    assert any("within the guideline's limit of" in h for h in out.hints)
    assert out.partial_authorization == "up to 6 visits are within the guideline's limits"
    assert "up to 6 visits" in (out.draft_rationale or "")


def test_more_therapy_without_functional_improvement_upholds_with_a_hint() -> None:
    out = review_one("Additional physical therapy 2 times a week for 3 weeks for the neck")
    assert out.recommendation == Decision.UPHELD
    codes = {ReasonCode.NO_FUNCTIONAL_IMPROVEMENT, ReasonCode.EXCEEDS_LIMITS}
    assert out.decisive_reason and out.decisive_reason.code in codes
    assert any("functional improvement" in h for h in out.hints)
    assert out.partial_authorization is None  # more visits would not meet the unmet criterion


def test_requested_visits_alone_over_the_cap_exceed_it_when_the_earlier_count_is_unknown() -> None:
    summary = "She has had physical therapy for the low back. Utilization review denied the request."
    out = review_one(
        "Twelve physical therapy sessions, three times a week for four weeks, lumbar spine", summary
    )
    (cap,) = [c for c in out.criteria if c.criterion == "max_visits"]
    assert cap.status == "unmet" and "12" in cap.detail and cap.within is None
    assert out.decisive_reason and out.decisive_reason.code == ReasonCode.EXCEEDS_LIMITS
    assert out.partial_authorization is None  # how many more visits the cap allows is unknown


def test_every_condition_of_the_vocabulary_says_what_its_absence_means() -> None:
    for name, cond in load_rules().conditions.items():
        assert cond.reason.decision is Decision.UPHELD, name
        assert cond.hint.startswith(("document", "name", "request")), name
        assert "_" not in cond.label, name


# Generated cases ------------------------------------------------------------------------------

_STATUSES = ("met", "unmet", "not_documented", "not_assessed")
_CONDITIONS = sorted(load_rules().conditions)


@st.composite
def criteria(draw: st.DrawFn) -> list[Criterion]:
    out = []
    for k in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(("limit", "condition", "condition", "recommendation")))
        role = (
            "required"
            if kind != "condition"
            else draw(
                st.sampled_from(("required", "any_of", "for_continuation", "supporting", "contraindication"))
            )
        )
        status = draw(st.sampled_from(_STATUSES if kind != "recommendation" else ("unmet",)))
        name = draw(st.sampled_from(_CONDITIONS)) if kind == "condition" else f"max_visits{k}"
        out.append(
            Criterion(
                rule_id="generated-rule-one",
                criterion=name,
                label=name.replace("_", " "),
                kind=kind,
                role=role,
                status=status,
                detail="requested visits 8 exceeds the limit of 6" if kind == "limit" else "a detail",
                evidence=(Evidence(text="a quoted span", start=0, end=13),) if status == "met" else (),
            )
        )
    return out


@given(
    st.lists(criteria(), min_size=1, max_size=4),
    st.lists(st.booleans(), min_size=4, max_size=4),
    st.sampled_from(sorted(UPHELD)),
)
@settings(max_examples=300, deadline=None)
def test_generated_criteria_decide_consistently(
    cases: list[list[Criterion]], overturned: list[bool], prior: ReasonCode
) -> None:
    request = parse_request("Physical therapy 8 visits")
    analyses = [ItemAnalysis(DisputedItem(item=f"item {k}"), request, [], c) for k, c in enumerate(cases)]
    decided = decide(analyses, overturned[: len(cases)], [prior] * len(cases))
    for done, crit in zip(decided, cases, strict=True):
        first = assess(done.analysis)
        if any(against(c) for c in crit):
            assert done.basis == "guideline" and done.recommendation == Decision.UPHELD
        if done.basis == "statistical":
            assert first.recommendation is None
        assert (done.decisive.code in UPHELD) == (done.recommendation == Decision.UPHELD)
        text = draft_rationale(done, Governing(NON_MTUS, None, "", None))
        assert conclusion(text) == done.recommendation, text
