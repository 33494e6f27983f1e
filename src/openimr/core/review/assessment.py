"""The guideline assessment of a disputed item: what the governing rule's criteria decide.

A pure step over the criteria results (:mod:`openimr.core.review.criteria`). Anything against the
request (a limit exceeded, "not recommended", a required criterion unmet or undocumented, a
contraindication present) makes the recommendation Upheld, carried by the most specific of
those criteria; every required criterion met and within limits makes it Overturned. Otherwise
(no encoded rule, or criteria the engine cannot assess) the criteria decide nothing and the
recommendation is statistical, from p_overturn. What each criterion's absence means (its decisive
reason) and what documentation would meet it (its hint) are data of the rules file's condition
vocabulary, never chosen here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import BaseModel, Field

from openimr.core.guidelines.rules import Tier, load_rules
from openimr.core.models import Decision, ReasonCode
from openimr.core.review.analysis import OPERATION_CRITERION, ItemAnalysis, support_score
from openimr.core.review.criteria import Criterion
from openimr.core.review.governing import candidate_rules

Basis = Literal["guideline", "statistical", "none"]
_ORDER = {code: rank for rank, code in enumerate(ReasonCode)}


class DecisiveReason(BaseModel):
    """Why the recommendation goes the way it does: a REASONS.md code, the criterion that carries
    it (``rule / criterion``, and in plain words) and the words of the record that show it."""

    code: ReasonCode
    criterion: str | None = None
    label: str | None = None
    evidence: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Assessment:
    """What the criteria decide: ``recommendation`` is None when they decide nothing (the basis
    is then statistical); ``decisive`` is None until a statistical recommendation is made."""

    basis: Basis
    recommendation: Decision | None
    decisive: DecisiveReason | None
    hints: tuple[str, ...] = field(default=())
    partial: str | None = None


def against(c: Criterion) -> bool:
    """Whether a criterion's result counts against the request."""
    if c.kind in ("limit", "recommendation"):
        return c.status == "unmet"
    if c.role == "contraindication":
        return c.status == "met"
    return c.role in ("required", "for_continuation") and c.status in ("unmet", "not_documented")


def _satisfied(c: Criterion) -> bool:
    """Whether a criterion that must hold for an overturn does (supporting ones need not)."""
    if c.role == "contraindication":  # absent unless the record shows it
        return c.status in ("unmet", "not_documented")
    if c.role in ("supporting", "any_of"):
        return True
    return c.status == "met"


def reason_of(c: Criterion) -> ReasonCode:
    """The decisive reason a criterion carries when it counts against the request."""
    if c.kind == "recommendation" or c.role == "contraindication":
        return ReasonCode.NOT_RECOMMENDED
    if c.criterion == OPERATION_CRITERION:
        return ReasonCode.ASSOCIATED_WITH_DENIED
    if c.kind == "limit":
        return ReasonCode.EXCEEDS_LIMITS if c.status == "unmet" else ReasonCode.REQUEST_UNCLEAR
    vocabulary = load_rules().conditions.get(c.criterion)
    return vocabulary.reason if vocabulary else ReasonCode.INDICATIONS_NOT_DOCUMENTED


def hint_of(c: Criterion) -> str | None:
    """What documentation (or change to the request) would meet a criterion that counts against it."""
    if c.kind == "recommendation":
        return (
            "the guideline does not recommend this treatment: only peer-reviewed evidence that it "
            "helps this patient's condition (Labor Code 4610.5(c)(2)(B)) could support it"
        )
    if c.criterion == OPERATION_CRITERION:
        return "the service follows its operation: it is needed only once the operation is certified"
    if c.kind == "limit":
        if c.status == "not_documented":
            return f"state the {c.label} requested"
        if c.limit and c.limit.startswith("at least"):
            return f"document {c.limit} for {c.label} (the guideline's minimum)"
        return (
            f"keep the request within the guideline's limit of {c.limit} for {c.label}, "
            "or document why this case needs more"
        )
    vocabulary = load_rules().conditions.get(c.criterion)
    if vocabulary is None:
        return None
    if c.role == "contraindication":
        return f"the record shows {vocabulary.label}, which weighs against the treatment"
    return vocabulary.hint


def within_limits(criteria: Sequence[Criterion]) -> str | None:
    """What a partial authorization could certify: when only visit limits stand against the
    request, the visits they allow (None otherwise, or when they allow none)."""
    found = [c for c in criteria if against(c)]
    if not found or any(c.within is None for c in found):
        return None
    allowed = min(c.within for c in found if c.within is not None)
    return f"up to {allowed:g} visits are within the guideline's limits" if allowed >= 1 else None


def decisive_criterion(criteria: Sequence[Criterion]) -> Criterion | None:
    """The criterion against the request that carries the decision: a service's denied operation
    first, else the most specific (REASONS.md's order), if any is against it."""
    found = [c for c in criteria if against(c)]
    if not found:
        return None
    return next((c for c in found if c.criterion == OPERATION_CRITERION), None) or min(
        found, key=lambda c: _ORDER[reason_of(c)]
    )


def _reason(code: ReasonCode, c: Criterion | None) -> DecisiveReason:
    if c is None:
        return DecisiveReason(code=code)
    return DecisiveReason(
        code=code,
        criterion=f"{c.rule_id} / {c.criterion}",
        label=c.label,
        evidence=[e.text for e in c.evidence],
    )


def _any_of_fails(criteria: Sequence[Criterion]) -> bool:
    group = [c for c in criteria if c.role == "any_of"]
    return (
        bool(group)
        and not any(c.status == "met" for c in group)
        and all(c.status in ("unmet", "not_documented") for c in group)
    )


def assess(a: ItemAnalysis) -> Assessment:
    """What the governing rule's criteria decide for one item (see the module's docstring)."""
    criteria = a.criteria
    group = [c for c in criteria if c.role == "any_of"]
    missing = [c for c in criteria if against(c)] + (group if _any_of_fails(criteria) else [])
    hints = tuple(dict.fromkeys(h for c in missing if (h := hint_of(c))))
    decisive = decisive_criterion(criteria)
    if decisive is not None:
        reason = _reason(reason_of(decisive), decisive)
        return Assessment("guideline", Decision.UPHELD, reason, hints, within_limits(criteria))
    if _any_of_fails(criteria):
        first = min(group, key=lambda c: _ORDER[reason_of(c)])
        return Assessment("guideline", Decision.UPHELD, _reason(reason_of(first), first), hints)
    # Overturned only where a criterion the request must meet is met (an absent contraindication
    # alone checks nothing).
    required = [c for c in criteria if c.role not in ("supporting", "any_of", "contraindication")]
    if required and all(_satisfied(c) for c in criteria):
        operation = next((c for c in criteria if c.criterion == OPERATION_CRITERION), None)
        code = ReasonCode.ASSOCIATED_WITH_CERTIFIED if operation else ReasonCode.CRITERIA_MET
        met = operation or next((c for c in required if c.status == "met"), None)
        return Assessment("guideline", Decision.OVERTURNED, _reason(code, met), ())
    return Assessment("statistical", None, None, hints)


def with_operation(a: ItemAnalysis, operation: Decision, name: str) -> ItemAnalysis:
    """A perioperative service's analysis once the disputed operation it serves (*name*) is
    decided: its operation criterion is met when the operation is recommended Overturned."""
    met = operation is Decision.OVERTURNED
    outcome = (
        "Overturned, so the service is needed with it" if met else "Upheld, so the service is not needed"
    )
    criteria = [
        c.model_copy(
            update={
                "status": "met" if met else "unmet",
                "detail": f"the operation this service is for ({name!r}) is recommended {outcome}",
            }
        )
        if c.criterion == OPERATION_CRITERION
        else c
        for c in a.criteria
    ]
    return replace(a, criteria=criteria)


@dataclass(frozen=True)
class Recommended:
    """An item's final assessment: its analysis (criteria as decided), basis, recommendation (None
    where the engine has no basis for one), decisive reason and hints."""

    analysis: ItemAnalysis
    basis: Basis
    recommendation: Decision | None
    decisive: DecisiveReason | None
    hints: tuple[str, ...]
    partial: str | None = None


@dataclass(frozen=True)
class Policy:
    """How the criteria and a calibrated p_overturn make a recommendation.

    Criteria against the request always make it Upheld. ``criteria_overturn`` says what criteria
    all met do: "stand" (Overturned), or "likelier" (Overturned only when p_overturn also makes it
    the likelier outcome, else no recommendation). Where the criteria decide nothing, the likelier
    outcome by p_overturn (Overturned from ``cut``, at least 0.5): never Overturned for an item the
    engine thinks more likely upheld."""

    criteria_overturn: Literal["stand", "likelier"] = "likelier"
    cut: float = 0.5

    def __post_init__(self) -> None:
        if self.cut < 0.5:
            raise ValueError("an Overturned recommendation needs p_overturn of at least 0.5")


# The decisive reason of a statistical Upheld recommendation is a prior, not a finding: its label says so.
PRIOR_LABEL = (
    "the reason reviewers most often give for upholding this kind of request (not a finding on this record)"
)


def _final(a: ItemAnalysis, p: float, upheld_reason: ReasonCode, policy: Policy) -> Recommended:
    assessment = assess(a)
    if assessment.recommendation is Decision.UPHELD and assessment.decisive is not None:
        return Recommended(
            a, "guideline", Decision.UPHELD, assessment.decisive, assessment.hints, assessment.partial
        )
    if assessment.recommendation is Decision.OVERTURNED and assessment.decisive is not None:
        if policy.criteria_overturn == "stand" or p >= policy.cut:
            return Recommended(a, "guideline", Decision.OVERTURNED, assessment.decisive, ())
        return Recommended(a, "none", None, None, _to_check(a, assessment.hints))
    certified = next(
        (c for c in a.criteria if c.criterion == OPERATION_CRITERION and c.status == "met"), None
    )
    if certified is not None:
        # A service for an operation the application does not dispute (certified, or done), with
        # nothing in its own criteria against it: its need follows from the operation, under the
        # same policy as criteria met (never Overturned for an item more likely upheld).
        if policy.criteria_overturn == "stand" or p >= policy.cut:
            reason = _reason(ReasonCode.ASSOCIATED_WITH_CERTIFIED, certified)
            return Recommended(a, "guideline", Decision.OVERTURNED, reason, ())
        return Recommended(a, "none", None, None, _to_check(a, assessment.hints))
    if p >= policy.cut:
        return Recommended(
            a, "statistical", Decision.OVERTURNED, DecisiveReason(code=ReasonCode.OTHER_OVERTURNED), ()
        )
    reason = DecisiveReason(code=upheld_reason, label=PRIOR_LABEL)
    return Recommended(a, "statistical", Decision.UPHELD, reason, _to_check(a, assessment.hints))


def _to_check(a: ItemAnalysis, hints: tuple[str, ...]) -> tuple[str, ...]:
    """What the reviewer must check where the criteria decide nothing: the hints of the criteria
    against the request, then each criterion the engine could not assess."""
    unread = [
        f"{c.label} (the engine does not read it)"
        for c in a.criteria
        if c.status == "not_assessed" and c.role not in ("supporting",) and c.criterion != OPERATION_CRITERION
    ]
    return tuple(dict.fromkeys([*hints, *unread])) or _asked_before(a)


def _asked_before(a: ItemAnalysis, most: int = 4) -> tuple[str, ...]:
    """Where no criterion in force is encoded for the request: the conditions that encoded MTUS
    rules of other dates ask of this kind of request, as a checklist (never as a finding)."""
    rules = [r for r in candidate_rules(a.request, a.item.item or "", None) if r.tier is Tier.MTUS]
    vocabulary = load_rules().conditions
    labels = dict.fromkeys(
        vocabulary[c.id].label
        for r in rules
        for c in r.conditions
        if c.role.value in ("required", "for_continuation", "any_of") and c.id in vocabulary
    )
    return tuple(f"{label} (asked by an encoded MTUS rule of another date)" for label in list(labels)[:most])


def _following(
    a: ItemAnalysis, operation: Recommended, name: str, p: float, policy: Policy, upheld: ReasonCode
):
    """A perioperative service once the disputed operation it serves is decided: with a guideline
    basis, the operation's decision is a criterion of the service; otherwise the service carries the
    operation's basis and recommendation (unless its own criteria are against it)."""
    if operation.basis == "guideline" and operation.recommendation is not None:
        served = with_operation(a, operation.recommendation, name)
        if assess(served).recommendation is not None:
            return _final(served, p, upheld, policy)
        carrying = next(c for c in served.criteria if c.criterion == OPERATION_CRITERION)
        code = (
            ReasonCode.ASSOCIATED_WITH_CERTIFIED
            if operation.recommendation is Decision.OVERTURNED
            else ReasonCode.ASSOCIATED_WITH_DENIED
        )
        return Recommended(served, "guideline", operation.recommendation, _reason(code, carrying), ())
    own = assess(a)
    if own.recommendation is Decision.UPHELD and own.decisive is not None:
        return Recommended(a, "guideline", Decision.UPHELD, own.decisive, own.hints, own.partial)
    if operation.recommendation is None:
        return Recommended(a, "none", None, None, _to_check(a, own.hints))
    code = (
        ReasonCode.ASSOCIATED_WITH_CERTIFIED
        if operation.recommendation is Decision.OVERTURNED
        else ReasonCode.ASSOCIATED_WITH_DENIED
    )
    label = f"the disputed operation {name!r}"
    return Recommended(
        a, operation.basis, operation.recommendation, DecisiveReason(code=code, label=label), own.hints
    )


def decide(
    analyses: Sequence[ItemAnalysis],
    probs: Sequence[float],
    upheld_reasons: Sequence[ReasonCode],
    policy: Policy | None = None,
) -> list[Recommended]:
    """Every item's final assessment, in order, by *policy* (:class:`Policy`) from the criteria and
    p_overturn (*probs*); a statistical Upheld carries the likeliest reason for that kind of request
    (*upheld_reasons*). A perioperative service is assessed once the disputed operation it serves
    is decided, and carries that operation's basis."""
    policy = policy or Policy()
    first = {
        i: _final(a, float(probs[i]), upheld_reasons[i], policy)
        for i, a in enumerate(analyses)
        if a.operation is None
    }
    out = []
    for i, a in enumerate(analyses):
        if a.operation is None:
            out.append(first[i])
            continue
        operation = first[a.operation]  # an operation is never itself a perioperative service
        name = analyses[a.operation].item.item or ""
        out.append(_following(a, operation, name, float(probs[i]), policy, upheld_reasons[i]))
    return out


def rule_features(a: ItemAnalysis, case_items: int) -> dict[str, float]:
    """The rule results the overturn model weighs: what the criteria decide (Upheld, Overturned or
    nothing), limits exceeded, "not recommended", whether UR already authorized part of the request,
    whether the item is a perioperative service, the guideline-support score, and how many
    treatments the application disputes (*case_items*, see ``distinct_requests``)."""
    decided = assess(a).recommendation
    return {
        "assessed_upheld": float(decided == "Upheld"),
        "assessed_overturned": float(decided == "Overturned"),
        "perioperative": float(a.perioperative),
        "limits_unmet": float(sum(c.kind == "limit" and c.status == "unmet" for c in a.criteria)),
        "not_recommended": float(any(c.kind == "recommendation" and c.status == "unmet" for c in a.criteria)),
        "partial_authorization": float(bool(a.item.original_request or a.item.authorized)),
        "support": support_score(a.criteria),
        "case_items": float(max(case_items, 1)),
    }
