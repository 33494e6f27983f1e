"""A draft decision rationale in the letters' style, written from the guideline assessment.

The reviewer edits it. Every sentence comes from the governing rule's citation or a criterion's
result, in plain words (no rule ids, no character offsets), so nothing here states a guideline
figure the rules file does not hold; its conclusion is the recommendation's and names the
decisive criterion.
"""

from __future__ import annotations

from openimr.core.models import Decision, ReasonCode
from openimr.core.review.assessment import Recommended, against
from openimr.core.review.criteria import Criterion
from openimr.core.review.governing import NON_MTUS, Governing

# How a decisive reason reads when no single criterion carries it (a statistical recommendation).
_REASON_WORDS = {
    ReasonCode.EXCEEDS_LIMITS: "the request exceeds what the guidelines allow",
    ReasonCode.NO_FUNCTIONAL_IMPROVEMENT: "the records do not document objective functional improvement "
    "from the treatment already given",
    ReasonCode.MONITORING_NOT_DOCUMENTED: "the records do not document the required ongoing monitoring",
    ReasonCode.CONSERVATIVE_CARE_NOT_FAILED: "the records do not document a failed trial of "
    "conservative care",
    ReasonCode.INDICATIONS_NOT_DOCUMENTED: "the records do not document the clinical indications for it",
    ReasonCode.REQUEST_UNCLEAR: "the request does not state what is needed to decide it",
    ReasonCode.NOT_RECOMMENDED: "the guidelines do not recommend it for this condition",
    ReasonCode.ASSOCIATED_WITH_DENIED: "the procedure it serves is not certified",
    ReasonCode.OTHER_UPHELD: "the records do not establish its necessity",
    ReasonCode.CRITERIA_MET: "the records document what the guidelines require for it",
    ReasonCode.ASSOCIATED_WITH_CERTIFIED: "the procedure it serves is certified",
    ReasonCode.OTHER_OVERTURNED: "the records establish its necessity",
}


def _quoted(c: Criterion) -> str:
    return f' ("{c.evidence[0].text}")' if c.evidence else ""


def sentence(c: Criterion) -> str:
    """One criterion's result as a sentence of plain words."""
    if c.kind in ("limit", "recommendation"):
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
    if c.status == "not_documented":
        return f"The records do not document {c.label}."
    return f"Whether the records show {c.label} was not assessed: {c.detail.rstrip('.')}."


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


def draft_rationale(assessment: Recommended, governing: Governing) -> str:
    """A rationale for the assessment's recommendation that cites the governing guideline and the
    criteria, and concludes with the recommendation for the decisive reason."""
    a = assessment.analysis
    item = a.item.item or "the requested item"
    decisive = assessment.decisive
    carrying = next((c for c in a.criteria if decisive.criterion == f"{c.rule_id} / {c.criterion}"), None)
    shown = [c for c in a.criteria if c is not carrying and (c.status == "met" or against(c))][:4]
    body = " ".join(sentence(c) for c in shown)
    if carrying is not None:
        because = sentence(carrying)
    else:
        words = _REASON_WORDS[decisive.code]
        because = f"{words[0].upper()}{words[1:]}."
    if assessment.basis == "statistical":
        because = (
            "The encoded guideline criteria do not decide this request; the recommendation rests on "
            f"the record and similar past decisions. {because}"
        ).strip()
    necessary = (
        "is medically necessary"
        if assessment.recommendation is Decision.OVERTURNED
        else "is not medically necessary"
    )
    closing = f"Therefore, the request for {item} {necessary}."
    partial = f"Of the request, {assessment.partial}." if assessment.partial else ""
    return " ".join(p for p in (_opening(governing), body, because, partial, closing) if p)
