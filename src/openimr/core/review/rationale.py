"""A draft decision rationale in the letters' style, written from the criteria results.

The reviewer edits it; every sentence comes from a rule's citation or a criterion's result, so
nothing here states a guideline figure the rules file does not hold.
"""

from __future__ import annotations

from openimr.core.models import Decision
from openimr.core.review.analysis import OPERATION_CRITERION, ItemAnalysis
from openimr.core.review.criteria import Criterion
from openimr.core.review.governing import Governing


def _sentence(c: Criterion) -> str:
    detail = c.detail.rstrip(".")
    if c.kind == "limit" or c.criterion == OPERATION_CRITERION:
        return f"{detail[0].upper()}{detail[1:]}."
    if c.kind == "recommendation":
        return f"{detail}."
    name = c.criterion.replace("_", " ")
    if c.status == "met":
        return f"The records document {name}" + (f", e.g. {c.evidence[0]}." if c.evidence else ".")
    if c.status == "unmet":
        return f"The records do not show {name}" + (f" ({c.evidence[0]})." if c.evidence else ".")
    return f"There is no documentation of {name}."


def draft_rationale(a: ItemAnalysis, governing: Governing, recommendation: str) -> str:
    """A rationale for *recommendation* that cites the governing guideline and the criteria."""
    item = a.item.item or "the requested item"
    if governing.rule is not None:
        opening = (
            f"This request falls under the {governing.family} guideline ({governing.citation}): "
            f"{governing.rule.title}."
        )
    elif governing.family == "Non-MTUS":
        opening = (
            "The MTUS does not address this request in the encoded rules, so the decision rests on "
            "peer-reviewed and nationally recognized standards (Labor Code 4610.5(c)(2)(B)-(C))."
        )
    else:
        opening = f"The decision rests on the {governing.family}; no encoded rule states its criteria."
    decisive = [c for c in a.criteria if c.status in ("met", "unmet") or c.role == "required"]
    body = " ".join(_sentence(c) for c in decisive[:5])
    necessary = (
        "is medically necessary" if recommendation == Decision.OVERTURNED else "is not medically necessary"
    )
    closing = f"Therefore, the request for {item} {necessary}."
    return " ".join(p for p in (opening, body, closing) if p)
