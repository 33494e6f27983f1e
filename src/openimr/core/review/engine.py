"""The review engine: a case in, a review (``schemas/review.schema.json``) out, per disputed item."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path

import joblib
from pydantic import BaseModel, Field

from openimr.core.case import Case
from openimr.core.facts.models import Facts
from openimr.core.facts.pipeline import extract_facts, warm_up
from openimr.core.guidelines.formulary import review_note
from openimr.core.guidelines.rules import Rule
from openimr.core.models import Decision, ReasonCode
from openimr.core.review.analysis import (
    ItemAnalysis,
    analyse_case,
    distinct_requests,
    family_features,
    follow_operations,
    reason_features,
    with_rule,
)
from openimr.core.review.assessment import Basis, DecisiveReason, Policy, Recommended, decide, rule_features
from openimr.core.review.criteria import Criterion
from openimr.core.review.governing import NON_MTUS, Governing, governing
from openimr.core.review.model import ItemInput, Models, ur_sentences
from openimr.core.review.precedent import Precedents, summarize
from openimr.core.review.rationale import draft_rationale

MODEL_FILE = "data/model.joblib"


class SimilarDecision(BaseModel):
    """A decided item of a past letter that resembles the disputed item."""

    letter: str
    item: str
    decision: str
    family: str
    score: float
    number: int | None = None  # the item's number in its letter (1 for the first)
    reason: ReasonCode | None = None  # the decisive reason its rationale states, when read
    quote: str | None = None  # the rationale's sentence that states it


# (item text, the case's own case number to leave out) -> the most similar past decisions.
SimilarFinder = Callable[[str, str | None], list[SimilarDecision]]


class Guideline(BaseModel):
    """The guideline an item's decision rests on, and its encoded rule (id and title) if any."""

    family: str
    citation: str | None = None
    level: str | None = None
    rule: str | None = None
    title: str | None = None


class ItemReview(BaseModel):
    """Decision support for one disputed item (an item of review.schema.json)."""

    item: str
    recommendation: Decision | None  # None where the engine has no basis for one (basis "none")
    basis: Basis
    p_overturn: float = Field(ge=0, le=1)
    guideline: Guideline
    decisive_reason: DecisiveReason | None = None
    hints: list[str] = Field(default_factory=list)
    partial_authorization: str | None = None  # what of an Upheld request is within the limits
    reasons: list[str]
    request: dict
    criteria: list[Criterion] = Field(default_factory=list)
    similar: list[SimilarDecision] = Field(default_factory=list)
    precedents: Precedents | None = None  # how reviewers decided similar past items
    draft_rationale: str | None = None


class Review(BaseModel):
    """Decision support for one case."""

    case_number: str | None = None
    items: list[ItemReview]


@cache
def load_models(path: str | None = None) -> Models:
    """The fitted models shipped in the package (or at *path*), loaded once per process."""
    source = Path(path) if path else resources.files("openimr.core.review").joinpath(MODEL_FILE)
    with source.open("rb") as handle:
        bundle = joblib.load(handle)
    return Models(bundle["overturn"], bundle["family"], bundle["reasons"], bundle.get("policy", Policy()))


def item_inputs(analyses: list[ItemAnalysis], case: Case, facts: Facts) -> list[ItemInput]:
    """What the learned models read of each analysed item of *case* (whose summary's *facts*)."""
    text, requests = ur_sentences(case.clinical_summary), distinct_requests(analyses)
    return [
        ItemInput(text, rule_features(a, requests), family_features(a), reason_features(a, facts))
        for a in analyses
    ]


def _evidence(c: Criterion) -> str:
    return f"; the record: {'; '.join(repr(e.text) for e in c.evidence)}" if c.evidence else ""


def _reasons(a: ItemAnalysis, gov: Governing, facts: Facts, case: Case) -> list[str]:
    """The criteria checked, met and unmet, each naming its rule (by title) and the evidence found."""
    out: list[str] = []
    if not (a.item.item or "").strip():
        out.append("missing: the disputed item has no text; nothing could be parsed")
    elif a.request.category == "other":
        out.append(f"the item could not be classified into a request category: {a.item.item!r}")
    if not case.clinical_summary.strip():
        out.append(
            "missing: the case has no clinical summary, so no criterion can be checked against the record"
        )
    if gov.rule is None:
        out.append(
            f"{gov.family}: not addressed by the encoded MTUS rules; "
            "peer-reviewed and nationally recognized standards apply (LC 4610.5(c)(2)(B)-(C))"
            if gov.family == NON_MTUS
            else f"{gov.family}: chosen from past decisions; no encoded rule of it states criteria"
        )
    titles = {r.id: r.title for r in a.rules}
    for c in a.criteria:
        rule = titles.get(c.rule_id, "the guideline")
        out.append(f"{rule}: {c.label}: {c.status.replace('_', ' ')} - {c.detail}{_evidence(c)}")
    first = gov.rule or (a.rules[0] if a.rules else None)
    if first is not None and not any(c.rule_id == first.id for c in a.criteria):
        out.append(
            f"{first.title}: no criteria of this rule could be checked against the request"
            if first.criteria_encoded
            else f"{first.citation.section} ({first.citation.regulation}) governs this item; "
            "its criteria are not encoded, so none was checked"
        )
    if not a.rules:
        out.append("no encoded rule addresses this item: no limit is applied")
    if a.request.drug is not None and (note := review_note(a.request.drug.name, a.day)):
        out.append(note)  # the drug's MTUS Drug List status: who may dispense it without review
    if facts.days_since_injury is not None:
        out.append(f"record: about {facts.days_since_injury} days from the date of injury to the latest note")
    return out


SHOWN = 10  # similar past decisions listed; the precedents summarize all the finder gives


def _similar_reason(similar: list[SimilarDecision], precedents: Precedents) -> str:
    closest = similar[0]
    return (
        f"similar past decisions: {precedents.overturned} of {precedents.count} overturned "
        f"(95% interval {precedents.low:.0%} to {precedents.high:.0%}); closest: {closest.letter} "
        f"{closest.item!r}: {closest.decision} ({closest.family})"
    )


def judge_case(
    analyses: list[ItemAnalysis],
    inputs: list[ItemInput],
    models: Models,
    rule_analysis: Callable[[int, Rule | None], ItemAnalysis],
) -> list[tuple[float, Governing, Recommended]]:
    """p_overturn, governing guideline and final assessment of each item of one case: the one path
    from analysis to recommendation, for the engine and for its evaluation. *rule_analysis* gives
    item *k*'s analysis with the criteria of a rule (the governing one)."""
    overturn, family, reasons, policy = models
    probs = follow_operations(overturn.predict_proba(inputs)[:, 1], [a.operation for a in analyses])
    known = set(family.classes_)
    governed = [
        governing(a.rules, str(f), known) for a, f in zip(analyses, family.predict(inputs), strict=True)
    ]
    ruled = [rule_analysis(k, g.rule) for k, g in enumerate(governed)]
    decided = decide(ruled, list(probs), reasons.predict(inputs), policy)
    return [(float(p), g, d) for p, g, d in zip(probs, governed, decided, strict=True)]


def review_case(case: Case, model_path: str | None = None, similar: SimilarFinder | None = None) -> Review:
    """Review every disputed item of *case*, in input order; with *similar* (a finder of past
    decisions, :func:`openimr.services.review.similar_finder`), the reasons also give the most
    similar past decisions."""
    models = load_models(model_path)
    warm_up()
    facts = extract_facts(case.clinical_summary)
    analyses = analyse_case(case, facts)
    inputs = item_inputs(analyses, case, facts)
    if not inputs:
        return Review(case_number=case.case_number, items=[])
    judged = judge_case(
        analyses,
        inputs,
        models,
        lambda k, rule: with_rule(analyses[k], rule, facts),
    )
    items = []
    for p, gov, done in judged:
        a, op = done.analysis, done.analysis.operation
        past = similar(a.item.item, case.case_number) if similar and a.item.item else []
        reasons = _reasons(a, gov, facts, case)
        if op is not None:
            reasons.append(f"p_overturn is that of the disputed operation {analyses[op].item.item!r}")
        precedents = summarize(past)
        if past and precedents:
            reasons.append(_similar_reason(past, precedents))
        items.append(
            ItemReview(
                item=a.item.item,
                recommendation=done.recommendation,
                basis=done.basis,
                p_overturn=round(float(p), 4),
                guideline=Guideline(
                    family=gov.family,
                    citation=gov.citation,
                    level=gov.level,
                    rule=gov.rule.id if gov.rule else None,
                    title=gov.rule.title if gov.rule else None,
                ),
                decisive_reason=done.decisive,
                hints=list(done.hints),
                partial_authorization=done.partial,
                reasons=reasons,
                request=a.request.model_dump(mode="json"),
                criteria=a.criteria,
                similar=past[:SHOWN],
                precedents=precedents,
                draft_rationale=draft_rationale(done, gov, float(p)),
            )
        )
    return Review(case_number=case.case_number, items=items)
