"""Precedents: how expert reviewers decided past items like the one in dispute.

Beside the criteria, not instead of them: how many similar past items there are, the share
overturned with its Wilson score interval (which stays honest at any corpus size: 1 of 2 is
"between 9% and 91%"), and the decisive reasons their rationales state most often, each with a
sentence that states it and the case it comes from. A rationale's decisive reason is read from its
concluding sentences by patterns kept as data (``data/stated_reasons.yaml``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import cache
from typing import Protocol

from pydantic import BaseModel, Field

from openimr.core.models import Decision, ReasonCode
from openimr.core.yamlfile import package_yaml

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_CONCLUDING = re.compile(r"\b(?:however|in this case)\b", re.I)
QUOTE_CHARS = 300


class PrecedentReason(BaseModel):
    """A decisive reason the similar past decisions state: how many state it, and one of them."""

    code: ReasonCode
    count: int = Field(ge=1)
    quote: str
    letter: str
    number: int | None = None


class Precedents(BaseModel):
    """How reviewers decided similar past items: count, overturned, the overturned share and its
    95% Wilson interval, and the commonest stated decisive reasons."""

    count: int = Field(ge=0)
    overturned: int = Field(ge=0)
    share: float = Field(ge=0, le=1)
    low: float = Field(ge=0, le=1)
    high: float = Field(ge=0, le=1)
    reasons: list[PrecedentReason] = Field(default_factory=list)


class Past(Protocol):
    """A similar past decision, as the corpus gives it."""

    letter: str
    number: int | None
    decision: str
    reason: ReasonCode | None
    quote: str | None


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion *k* / *n* ((0, 1) when *n* is 0)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@cache
def _patterns() -> dict[str, list[tuple[ReasonCode, list[re.Pattern]]]]:
    data = package_yaml("openimr.core.review", "data/stated_reasons.yaml")
    return {
        side: [
            (ReasonCode(code), [re.compile(p, re.I) for p in patterns]) for code, patterns in codes.items()
        ]
        for side, codes in data.items()
    }


def stated_reason(rationale: str | None, decision: str) -> tuple[ReasonCode, str] | None:
    """The decisive reason a past rationale states and the sentence that states it: the most
    specific code matched in its concluding sentences (from the last "however" or "in this case"
    on, else the last two), else in the sentences before them, last first; None when none matches."""
    sentences = [s.strip() for s in _SENTENCE.split(rationale or "") if s.strip()]
    if not sentences:
        return None
    side = "overturned" if decision == Decision.OVERTURNED else "upheld"
    marks = [i for i, s in enumerate(sentences) if _CONCLUDING.search(s)]
    start = marks[-1] if marks else max(len(sentences) - 2, 0)
    for part in (sentences[start:], sentences[:start][::-1]):
        for code, patterns in _patterns()[side]:
            for s in part:
                if any(p.search(s) for p in patterns):
                    return code, s[:QUOTE_CHARS]
    return None


def summarize(past: Sequence[Past], reasons: int = 3) -> Precedents | None:
    """The precedents of *past* (None when there are none): the overturned share with its Wilson
    interval and the *reasons* commonest stated decisive reasons, each quoted from its first case."""
    if not past:
        return None
    n = len(past)
    overturned = sum(d.decision == Decision.OVERTURNED for d in past)
    low, high = wilson(overturned, n)
    counts = Counter(d.reason for d in past if d.reason is not None)
    out = []
    for code, count in counts.most_common(reasons):
        first = next(d for d in past if d.reason == code and d.quote)
        out.append(
            PrecedentReason(
                code=code, count=count, quote=first.quote or "", letter=first.letter, number=first.number
            )
        )
    return Precedents(count=n, overturned=overturned, share=overturned / n, low=low, high=high, reasons=out)
