"""Precedents: the Wilson interval, and the decisive reason a past rationale states (crafted
rationales written for these tests)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from openimr.core.models import ReasonCode
from openimr.core.review.precedent import stated_reason, summarize, wilson


def test_the_wilson_interval_is_honest_at_any_size() -> None:
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(1, 2)
    assert low == pytest.approx(0.0945, abs=1e-3) and high == pytest.approx(0.9055, abs=1e-3)
    low, high = wilson(10, 100)
    assert low == pytest.approx(0.0552, abs=1e-3) and high == pytest.approx(0.1744, abs=1e-3)
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("rationale", "decision", "code"),
    [
        (
            "The guidelines allow up to ten visits. The worker has had twelve. However, the total "
            "number of sessions requested would exceed the guideline recommendation.",
            "Upheld",
            ReasonCode.EXCEEDS_LIMITS,
        ),
        (
            "Acupuncture may be extended with functional improvement. In this case, there is no "
            "documentation of objective functional improvement from the prior sessions.",
            "Upheld",
            ReasonCode.NO_FUNCTIONAL_IMPROVEMENT,
        ),
        (
            "Imaging is indicated with red flags or neurologic deficits. In this case, there are "
            "no red flags and no objective neurologic findings on examination.",
            "Upheld",
            ReasonCode.INDICATIONS_NOT_DOCUMENTED,
        ),
        (
            "Since the requested knee surgery is not medically necessary, the post-operative "
            "brace is not medically necessary either.",
            "Upheld",
            ReasonCode.ASSOCIATED_WITH_DENIED,
        ),
        (
            "The guideline criteria for the study have been met in this case. The request is "
            "medically necessary.",
            "Overturned",
            ReasonCode.CRITERIA_MET,
        ),
    ],
)
def test_the_stated_reason_is_read_from_the_concluding_sentences(
    rationale: str, decision: str, code: ReasonCode
) -> None:
    got = stated_reason(rationale, decision)
    assert got is not None and got[0] is code
    assert got[1] in rationale


def test_a_rationale_that_states_no_reason_gives_none() -> None:
    assert stated_reason("", "Upheld") is None
    assert stated_reason("The records were reviewed.", "Upheld") is None


@dataclass
class _Past:
    letter: str
    decision: str
    reason: ReasonCode | None
    quote: str | None
    number: int | None = 1


def test_summarize_counts_the_share_and_the_commonest_reasons() -> None:
    assert summarize([]) is None
    past = [
        _Past("CM1", "Upheld", ReasonCode.EXCEEDS_LIMITS, "It exceeds the limit."),
        _Past("CM2", "Upheld", ReasonCode.EXCEEDS_LIMITS, "More than allowed."),
        _Past("CM3", "Overturned", ReasonCode.CRITERIA_MET, "Criteria met."),
        _Past("CM4", "Upheld", None, None),
    ]
    p = summarize(past)
    assert p is not None and (p.count, p.overturned, p.share) == (4, 1, 0.25)
    assert (p.low, p.high) == pytest.approx(wilson(1, 4))
    assert [(r.code, r.count, r.letter, r.quote) for r in p.reasons] == [
        (ReasonCode.EXCEEDS_LIMITS, 2, "CM1", "It exceeds the limit."),
        (ReasonCode.CRITERIA_MET, 1, "CM3", "Criteria met."),
    ]
