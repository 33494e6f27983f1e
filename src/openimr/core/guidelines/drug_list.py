"""The MTUS Drug List's recommendation marks as rules the review engine evaluates like any other.

The list marks, for each ACOEM topic that discusses a drug, whether that guideline has conditions
for which the drug is Recommended, Not Recommended or given No Recommendation; it names no
condition, and sends the reader to the guideline for the condition and the phase of care (v.3
legend). So only one reading decides a request from the list alone: a topic whose only mark is
Not Recommended (the guideline recommends the drug for none of its conditions). Each such row
becomes a ``not_recommended`` rule, scoped to the drug (its ingredient and brand names, a drug
class of its own) and to the topic's diagnoses (a neck, a knee, a low back condition), for the
dates the row is known for, citing the list row. Topics without a body part of their own
(Chronic Pain, Opioids and the like) depend on the condition and the phase of care, so they make
no rule; nor do mixed marks. A drug
decided this way is decided on the list's row, its criterion naming the rule
``drug-list:INGREDIENT:TOPIC``.
"""

from __future__ import annotations

import re

from openimr.core.guidelines.formulary import Entry, Formulary, load_formulary
from openimr.core.guidelines.rules import (
    AppliesTo,
    Citation,
    DrugClass,
    Effective,
    Recommendation,
    Rule,
    RuleSet,
    Source,
    Status,
    Tier,
    Verification,
)

# ACOEM guideline topics of the list and the diagnosis words (matched in the item and the clinical
# summary, as rules_for matches a rule's diagnoses) that place a request in each: a drug request
# names no body part of its own, the record's diagnosis does.
TOPIC_DIAGNOSES: dict[str, tuple[str, ...]] = {
    "Ankle and Foot Disorders": ("ankle", "foot", "plantar fasciitis", "achilles"),
    "Cervical and Thoracic Spine Disorders": ("neck", "cervical", "thoracic", "cervicalgia"),
    "Elbow Disorders": ("elbow", "epicondylitis"),
    "Hand, Wrist, and Forearm Disorders": ("hand", "wrist", "forearm", "finger", "thumb", "carpal tunnel"),
    "Hip and Groin Disorders": ("hip", "groin"),
    "Knee Disorders": ("knee",),
    "Low Back Disorders": ("low back", "lumbar", "lumbosacral", "lumbago", "sciatica"),
    "Shoulder Disorders": ("shoulder", "rotator cuff"),
}
FAMILY = "MTUS Drug List"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def drug_class_of_name(ingredient: str) -> str:
    """The drug class a list row's rules apply to (the ingredient and its brand names), by ingredient."""
    return f"drug_list_{_slug(ingredient).replace('-', '_')}"


def drug_class_of(entry: Entry) -> str:
    """The drug class of a list row's rules."""
    return drug_class_of_name(entry.ingredient)


def _source_key(name: str) -> str:
    return f"drug_list_{name}"


def _rule(entry: Entry, topic: str, formulary: Formulary) -> Rule:
    source = formulary.sources[entry.verification.source]
    return Rule(
        id=f"drug-list:{_slug(entry.ingredient)}:{_slug(topic)}",
        title=f"{entry.ingredient}: not recommended in the ACOEM {topic} guideline (MTUS Drug List)",
        tier=Tier.MTUS,
        family=FAMILY,
        letter_label=None,
        citation=Citation(
            regulation="8 CCR 9792.27.15 (MTUS Drug List)",
            section=f"{entry.ingredient}, {topic}: Not Recommended",
        ),
        effective=Effective(
            **{"from": entry.from_, "to": entry.to},
            note="The dates the list row is known for.",
        ),
        applies_to=AppliesTo(
            categories=("drug",), drug_classes=(drug_class_of(entry),), diagnoses=TOPIC_DIAGNOSES[topic]
        ),
        recommendation=Recommendation.NOT_RECOMMENDED,
        verification=Verification(
            status=Status(entry.verification.status),
            source=_source_key(entry.verification.source),
            locator=f"{entry.citation}; {topic}",
            evidence=entry.verification.evidence,
        ),
        note=f"From the MTUS Drug List row for {entry.ingredient}; source: {source.title}.",
    )


def not_recommended(entry: Entry) -> list[str]:
    """The topics with a body part where the row's only mark is Not Recommended."""
    return [
        topic
        for topic, marks in entry.topics.items()
        if topic in TOPIC_DIAGNOSES and set(marks) == {"not_recommended"}
    ]


def with_drug_list(base: RuleSet, formulary: Formulary | None = None) -> RuleSet:
    """*base* with the rules the list's Not Recommended marks make (the same set when none does)."""
    formulary = formulary or load_formulary()
    entries = [e for e in formulary.drugs if not_recommended(e)]
    if not entries:
        return base
    rules = [_rule(e, topic, formulary) for e in entries for topic in not_recommended(e)]
    classes = {drug_class_of(e): DrugClass(members=(e.ingredient, *e.brands)) for e in entries}
    sources = {
        _source_key(e.verification.source): Source(
            title=formulary.sources[e.verification.source].title,
            url=formulary.sources[e.verification.source].url,
            kind="primary" if e.verification.status == "verified" else "secondary",
        )
        for e in entries
    }
    return base.model_copy(
        update={
            "rules": (*rules, *base.rules),
            "drug_classes": {**classes, **base.drug_classes},  # a row before the class it belongs to
            "sources": {**base.sources, **sources},
        }
    )
