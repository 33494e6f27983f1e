"""A draft decision rationale in the letters' style, written from the guideline assessment.

The reviewer edits it. Every sentence about the record comes from a criterion that was evaluated
(met, unmet or not documented), in plain words with the record's words that show it; a reason
code alone never becomes a finding. With a guideline basis the draft concludes with the
recommendation for its decisive criterion. Without one it says that no guideline finding decides
the request, lists what the reviewer must check, and gives p_overturn as an estimate, not a
conclusion. Nothing here states a guideline figure the rules file does not hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from openimr.core.models import Decision
from openimr.core.review.analysis import OPERATION_CRITERION
from openimr.core.review.assessment import Recommended, against
from openimr.core.review.criteria import Criterion
from openimr.core.review.governing import NON_MTUS, Governing

EVALUATED = frozenset({"met", "unmet", "not_documented"})
# A sentence that states a finding about the record (as score_review.py reads a draft).
FINDING = re.compile(r"\bthe records?\b[^.]*\b(document|show|establish)", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _quoted(c: Criterion) -> str:
    return f' ("{c.evidence[0].text}")' if c.evidence else ""


def sentence(c: Criterion) -> str:
    """One evaluated criterion's result as a sentence of plain words."""
    if c.kind in ("limit", "recommendation") or c.criterion == OPERATION_CRITERION:
        detail = c.detail.rstrip(".")
        return f"{detail[0].upper()}{detail[1:]}."
    if c.role == "contraindication":
        return (
            f"The records show {c.label}{_quoted(c)}, which weighs against the treatment."
            if c.status == "met"
            else f"The records do not show {c.label}."
        )
    if c.status == "met":
        return f"The records document {c.label}{_quoted(c)}."
    if c.status == "unmet":
        return f"The records do not show {c.label}{_quoted(c)}."
    return f"The records do not document {c.label}."


def _opening(governing: Governing) -> str:
    if governing.rule is not None and governing.family == NON_MTUS:
        return (
            "The MTUS does not address this request in the encoded rules; the decision rests on "
            f"{governing.rule.title} ({governing.citation}), by Labor Code 4610.5(c)(2)(B)-(C)."
        )
    if governing.rule is not None:
        return (
            f"This request falls under the {governing.family} ({governing.citation}): {governing.rule.title}."
        )
    if governing.family == NON_MTUS:
        return (
            "The MTUS does not address this request in the encoded rules, so the decision rests on "
            "peer-reviewed and nationally recognized standards (Labor Code 4610.5(c)(2)(B)-(C))."
        )
    return f"The decision rests on the {governing.family}; no encoded rule states its criteria."


def _evaluated(criteria: Iterable[Criterion], leave_out: Criterion | None = None) -> list[Criterion]:
    return [
        c
        for c in criteria
        if c is not leave_out and c.status in EVALUATED and (c.status == "met" or against(c))
    ]


def _guideline(assessment: Recommended, item: str) -> list[str]:
    a, decisive = assessment.analysis, assessment.decisive
    carrying = next(
        (c for c in a.criteria if decisive and decisive.criterion == f"{c.rule_id} / {c.criterion}"), None
    )
    parts = [sentence(c) for c in _evaluated(a.criteria, carrying)[:4]]
    if carrying is not None:
        parts.append(sentence(carrying))
    necessary = (
        "is medically necessary"
        if assessment.recommendation is Decision.OVERTURNED
        else "is not medically necessary"
    )
    if assessment.partial:
        parts.append(f"Of the request, {assessment.partial}.")
    parts.append(f"Therefore, the request for {item} {necessary}.")
    return parts


def _without_finding(assessment: Recommended, p_overturn: float | None) -> list[str]:
    a, decisive = assessment.analysis, assessment.decisive
    parts = [sentence(c) for c in _evaluated(a.criteria)[:4]]
    if assessment.basis == "none" and any(c.status == "met" for c in a.criteria):
        parts.append(
            "The criteria the engine could check are met, but reviewers have upheld most denials of "
            "requests like this one, so decision support makes no recommendation."
        )
    elif decisive is not None and decisive.label and decisive.code.value.startswith("associated_with"):
        parts.append(
            f"This service serves {decisive.label} and follows its decision; no guideline criterion "
            "decides that operation here."
        )
    else:
        parts.append(
            "No encoded criterion decides this request, so this draft states no guideline finding for "
            "or against it."
        )
    if assessment.hints:
        parts.append(f"Before deciding, the reviewer must check: {'; '.join(assessment.hints)}.")
    else:
        parts.append(
            "Before deciding, the reviewer must check the request against the governing guideline's "
            "criteria, which are not encoded here."
        )
    if p_overturn is not None:
        estimate = (
            f"Decision support estimates a {p_overturn:.0%} likelihood that an expert reviewer would "
            "overturn the denial, from the outcomes of past decisions"
        )
        if assessment.recommendation is not None:
            estimate += f"; on that estimate alone, {assessment.recommendation.value} is the likelier outcome"
        parts.append(f"{estimate}. This is an estimate, not a guideline finding.")
    return parts


def draft_rationale(assessment: Recommended, governing: Governing, p_overturn: float | None = None) -> str:
    """A rationale for the assessment that cites the governing guideline and the evaluated
    criteria: with a guideline basis it concludes with the recommendation for the decisive reason;
    otherwise it states no finding, lists what to check and gives *p_overturn* as an estimate."""
    item = assessment.analysis.item.item or "the requested item"
    body = (
        _guideline(assessment, item)
        if assessment.basis == "guideline"
        else _without_finding(assessment, p_overturn)
    )
    return " ".join(p for p in (_opening(governing), *body) if p)


def unsupported_findings(
    draft: str, criteria: Iterable[Criterion], decisive_label: str | None = None
) -> list[str]:
    """Sentences of *draft* that state a finding about the record which no evaluated criterion
    carries (by its label), as score_review.py counts them."""
    labels = [c.label.lower() for c in criteria if c.status in EVALUATED and c.label]
    if decisive_label:
        labels.append(decisive_label.lower())
    return [
        s
        for s in _SENTENCE.split(draft or "")
        if FINDING.search(s) and not any(lb in s.lower() for lb in labels)
    ]
