"""Everything the engine knows about one disputed item before it recommends: a pure step."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from openimr.core.case import Case, DisputedItem
from openimr.core.facts.models import Facts
from openimr.core.guidelines.rules import Rule, Tier
from openimr.core.requests import Request
from openimr.core.requests import parse as parse_request
from openimr.core.review.criteria import THERAPY_OF, Criterion, evaluate
from openimr.core.review.governing import NON_MTUS, candidate_rules, letter_family, rule_drug_classes


@dataclass(frozen=True)
class ItemAnalysis:
    """A disputed item with its parsed request, candidate rules and their criteria results; once
    analysed with its case, whether it is a service for a planned operation and the index of the
    disputed operation it follows (None when the application disputes none). ``rule`` is the rule
    whose criteria these are: the best MTUS candidate, until :func:`with_rule` sets the governing one;
    ``age`` and ``day`` the claimant's age and the reference date the criteria were read with."""

    item: DisputedItem
    request: Request
    rules: list[Rule]
    criteria: list[Criterion]
    perioperative: bool = False
    operation: int | None = None
    rule: Rule | None = None
    age: int | None = None
    day: dt.date | None = None


def reference_date(case: Case) -> dt.date | None:
    """The day whose rules apply: the UR decision, else the application, else unknown."""
    return case.ur_decision_date or case.application_received


def analyse_item(item: DisputedItem, case: Case, facts: Facts) -> ItemAnalysis:
    """Parse the item, find its candidate rules and evaluate the best MTUS rule's criteria."""
    text = item.item or ""
    request = parse_request(text)
    day, age = reference_date(case), case.claimant.age
    rules = candidate_rules(request, text, day, case.clinical_summary)
    rule = next((r for r in rules if r.tier is Tier.MTUS), None)
    criteria = evaluate(rule, request, facts, text=text, age=age, day=day) if rule else []
    statute = statute_criteria(rules, request, facts, text, age, day)
    return ItemAnalysis(item, request, rules, [*criteria, *statute], rule=rule, age=age, day=day)


def statute_criteria(
    rules: list[Rule], request: Request, facts: Facts, text: str, age: int | None, day: dt.date | None
) -> list[Criterion]:
    """The limits of the statutes among *rules* (Labor Code 4604.5's 24-visit cap for physical
    therapy, chiropractic and occupational therapy), evaluated beside the governing rule's criteria.
    A statutory cap can only count against a request: exceeded, it is required; otherwise it is
    listed as supporting, so it never carries an Overturned recommendation alone."""
    out = []
    for rule in rules:
        if rule.tier is not Tier.STATUTE:
            continue
        for c in evaluate(rule, request, facts, text=text, age=age, day=day):
            if c.kind != "limit":
                continue
            out.append(c if c.status == "unmet" else c.model_copy(update={"role": "supporting"}))
    return out


def _statutory(c: Criterion, rules: list[Rule]) -> bool:
    return any(r.id == c.rule_id and r.tier is Tier.STATUTE for r in rules)


def with_rule(a: ItemAnalysis, rule: Rule | None, facts: Facts) -> ItemAnalysis:
    """The analysis with the criteria of *rule* (the governing rule, or none), a perioperative
    service's operation criterion and the statutory limits kept."""
    if rule == a.rule:
        return a
    kept = [c for c in a.criteria if c.criterion == OPERATION_CRITERION or _statutory(c, a.rules)]
    criteria = evaluate(rule, a.request, facts, text=a.item.item, age=a.age, day=a.day) if rule else []
    return replace(a, criteria=[*criteria, *kept], rule=rule)


# Services that exist for a planned operation: pre-operative tests and clearance, "associated
# surgical services" and the surgeon's assistant (which the request parser files under surgery).
_PREOPERATIVE = re.compile(
    r"\bpre[- ]?op(?:erative)?\b|\bassociated surgical services?\b|\bmedical clearance\b|\blabs to include\b"
    r"|\bsurgical assist|\bassistant surgeon\b|\b(?:PA|RNFA|co-?surgeon) assist",
    re.I,
)
# Post-operative drugs, equipment and therapy serve a planned operation only when the application
# also holds the operation or its pre-operative services; alone they follow an operation long done
# and are judged by the postsurgical treatment rules.
_POSTOPERATIVE = re.compile(r"\bpost[- ]?op(?:erative)?\b", re.I)


def _is_operation(a: ItemAnalysis) -> bool:
    return a.request.category == "surgery" and not _PREOPERATIVE.search(a.item.item or "")


def _perioperative(analyses: list[ItemAnalysis]) -> list[bool]:
    """Which items of an application are services for a planned operation, not operations."""
    pre = [bool(_PREOPERATIVE.search(a.item.item or "")) for a in analyses]
    planned = any(pre) or any(_is_operation(a) for a in analyses)
    return [
        p or (planned and not _is_operation(a) and bool(_POSTOPERATIVE.search(a.item.item or "")))
        for a, p in zip(analyses, pre, strict=True)
    ]


def analyse_case(case: Case, facts: Facts) -> list[ItemAnalysis]:
    """Analyse every disputed item of *case*. A perioperative service is marked so, with the
    disputed operation it follows (the application's first), and gets the criterion of whether
    that operation is disputed."""
    analyses = [analyse_item(item, case, facts) for item in case.disputed_items]
    operations = [i for i, a in enumerate(analyses) if _is_operation(a)]
    op = operations[0] if operations else None
    return [
        replace(
            a,
            perioperative=True,
            operation=op,
            criteria=[*a.criteria, _operation_criterion(a, analyses, op)],
        )
        if peri
        else a
        for a, peri in zip(analyses, _perioperative(analyses), strict=True)
    ]


OPERATION_CRITERION = "operation_needed"


def _operation_criterion(a: ItemAnalysis, analyses: list[ItemAnalysis], op: int | None) -> Criterion:
    """A perioperative service stands or falls with its operation: when the application does not
    dispute the operation, it is not in question (certified, or done) and the service's need follows
    from it; when it does, the criterion is decided with the operation
    (:func:`openimr.core.review.assessment.with_operation`)."""
    return Criterion(
        rule_id=a.rules[0].id if a.rules else "no-rule",
        criterion=OPERATION_CRITERION,
        label="the operation this service is for",
        kind="condition",
        role="required",
        status="met" if op is None else "not_assessed",
        detail="the operation this service is for is not disputed in this application, so the "
        "service's need follows from it"
        if op is None
        else f"decided with the operation this service is for ({analyses[op].item.item!r})",
    )


def distinct_requests(analyses: list[ItemAnalysis]) -> int:
    """How many treatments the application disputes, a perioperative service counted with its
    operation rather than on its own (at least 1)."""
    return max(sum(not a.perioperative for a in analyses), 1)


def follow_operations(probs: np.ndarray, served: Sequence[int | None]) -> np.ndarray:
    """p_overturn of each perioperative service replaced by that of the disputed operation it serves."""
    out = np.array(probs, dtype=float)
    for i, op in enumerate(served):
        if op is not None:
            out[i] = probs[op]
    return out


# How much one criterion result moves the guideline-support score: a required criterion the record
# meets counts for the request, one it misses or leaves undocumented against it; a numeric limit the
# request exceeds, and a treatment the rule does not recommend, weigh more. "Not assessed" counts
# for nothing: the engine does not guess. A contraindication the record shows counts against it.
REQUIRED_WEIGHT = {"met": 1.0, "unmet": -1.0, "not_documented": -1.0}
EXCEEDED_LIMIT_WEIGHT = -1.0
NOT_RECOMMENDED_WEIGHT = -2.0
ANY_OF_WEIGHT = {True: 1.0, False: -1.0}
CONTRAINDICATION_WEIGHT = -1.0


def support_score(criteria: list[Criterion]) -> float:
    """How far the record supports the request by the governing rule's criteria: the sum of the
    weights above, with the rule's "any of" conditions counted once, as a group (met when any one is)."""
    score = 0.0
    for c in criteria:
        if c.role == "required":
            score += REQUIRED_WEIGHT.get(c.status, 0.0)
        if c.kind == "limit" and c.status == "unmet":
            score += EXCEEDED_LIMIT_WEIGHT
        if c.kind == "recommendation" and c.status == "unmet":
            score += NOT_RECOMMENDED_WEIGHT
        if c.role == "contraindication" and c.status == "met":
            score += CONTRAINDICATION_WEIGHT
    any_of = [c for c in criteria if c.role == "any_of"]
    if any_of:
        score += ANY_OF_WEIGHT[any(c.status == "met" for c in any_of)]
    return score


def reason_features(a: ItemAnalysis, facts: Facts) -> dict[str, float]:
    """What the decisive-reason model reads of an item whose criteria decide nothing: the kind of
    request, whether it continues a therapy, how the record reads on functional improvement,
    objective neurologic findings (or complaints only), failed conservative care and drug screens,
    and the results of the criteria the engine could evaluate."""
    r = a.request
    f: dict[str, float] = {f"category={r.category}": 1.0}
    if r.drug and r.drug.drug_class:
        f[f"drug_class={r.drug.drug_class}"] = 1.0
    therapy = THERAPY_OF.get(r.category)
    if therapy and facts.prior_sessions(therapy):
        f["continuation"] = 1.0
    f[f"functional_improvement={facts.has('functional_improvement', 'functional').status}"] = 1.0
    neuro = [x for x in facts.of("neuro_deficit") if x.affirmed]
    objective = any(x.qualifier == "objective" for x in neuro)
    f["objective_neuro"] = float(objective)
    f["complaints_only"] = float(bool(neuro) and not objective)
    f[f"failed_conservative_care={facts.has('failed_conservative_care').status}"] = 1.0
    f["drug_screen"] = float(bool(facts.of("urine_drug_screen")))
    f["perioperative"] = float(a.perioperative)
    for c in a.criteria:
        if c.status != "not_assessed":
            f[f"criterion={c.criterion}:{c.status}"] = 1.0
    return f


def family_features(a: ItemAnalysis) -> dict[str, float]:
    """Features for the guideline-family model: the request and its candidate rules (the best
    MTUS rule weighs most). UR's own citation is left out: it lowered cross-validated accuracy."""
    r = a.request
    f: dict[str, float] = {f"category={r.category}": 1.0}
    for part in r.body_parts[:2]:
        f[f"part={part}"] = 1.0
        f[f"category_part={r.category}|{part}"] = 1.0
    for drug_class in rule_drug_classes(r):
        f[f"drug_class={drug_class}"] = 1.0
    mtus = [x for x in a.rules if x.tier is Tier.MTUS]
    f[f"top={letter_family(mtus[0]) if mtus else NON_MTUS}"] = 3.0
    for rule in a.rules:
        f[f"candidate={letter_family(rule)}"] = 1.0
    if r.postoperative:
        f["postoperative"] = 1.0
    return f
