"""Which guideline governs a disputed item, by the evidence hierarchy of LC 4610.5(c)(2).

The MTUS comes first (4610.5(c)(2)(A)); only when no encoded MTUS rule addresses the item does
the engine fall to peer-reviewed and nationally recognized sources ("Non-MTUS", (B)-(C)).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from openimr.core.families import NON_MTUS, guideline_family
from openimr.core.guidelines.rules import Rule, Tier, drug_classes_of, normalize_region, rules_for
from openimr.core.requests import Request
from openimr.core.requests import parse as parse_request

# The request parser's class names, spelled as the rules file spells them.
_CLASS_ALIASES = {"proton-pump inhibitor": "ppi", "topical analgesic or compound": "topical_analgesic"}


def rule_drug_classes(request: Request) -> tuple[str, ...]:
    """The rules file's drug classes of the requested drug (none for a non-drug request)."""
    if request.drug is None:
        return ()
    classes = drug_classes_of(request.drug.name)
    if classes:
        return classes
    named = request.drug.drug_class
    if not named:
        return ()
    return (_CLASS_ALIASES.get(named, named.replace("-", "_").replace(" ", "_")),)


def in_region(rule: Rule, request: Request) -> bool:
    """Whether *rule* may govern *request* by body region: a rule scoped to regions (a chapter of
    the neck, the low back, the knee...) only for a request that names a body part in them; a
    request that names none (an EEG, a wheelchair, gloves) is outside every region-scoped rule."""
    regions = rule.applies_to.body_regions
    return not regions or any(normalize_region(p) in regions for p in request.body_parts)


def candidate_rules(request: Request, item: str, day: dt.date | None, summary: str = "") -> list[Rule]:
    """Every encoded rule that may govern the request, best fit first (MTUS before others). A rule
    restricted to diagnoses is matched against the item line and the clinical *summary*; a rule
    scoped to body regions only when the request names a body part in them (:func:`in_region`)."""
    region = request.body_parts[0] if request.body_parts else None
    diagnoses = f"{item}\n{summary}" if summary else item
    found: list[Rule] = []
    for drug_class in rule_drug_classes(request) or (None,):
        for rule in rules_for(
            request.category,
            drug_class,
            region,
            day,
            text=item,
            postoperative=request.postoperative,
            diagnoses=diagnoses,
        ):
            if rule not in found and in_region(rule, request):
                found.append(rule)
    return sorted(found, key=lambda r: r.tier is not Tier.MTUS)


# Requests that name no body region, or one outside the spine: what `guidelines check` reviews the
# engine's matching with (a region-scoped rule matched to any of them is a fault).
REGION_PROBES = (
    "Electroencephalogram",
    "Electrocardiogram times 3",
    "standard wheelchair for a 2 month rental",
    "purchase of a bedside 3 in 1 commode",
    "Large gloves",
    "Functional capacity evaluation",
    "Associated surgical service: Cryotherapy unit, seven day rental",
    "Physical therapy 6 sessions",
    "MRI of the right knee",
    "Acupuncture 6 sessions",
    "Norco 10/325 #90",
)


def out_of_region(day: dt.date | None = None, items: tuple[str, ...] = REGION_PROBES) -> list[str]:
    """One line per region-scoped rule the engine would match to a request outside its regions."""
    problems = []
    for item in items:
        request = parse_request(item)
        parts = {normalize_region(p) for p in request.body_parts}
        for rule in candidate_rules(request, item, day):
            regions = set(rule.applies_to.body_regions)
            if regions and not parts & regions:
                problems.append(
                    f"rule {rule.id!r} (regions {sorted(regions)}) is matched to {item!r}, "
                    f"which names {sorted(parts) or 'no body region'}"
                )
    return problems


def letter_family(rule: Rule) -> str:
    """A rule's guideline family as the letters name it ("MTUS Low Back Complaints", "Non-MTUS")."""
    if rule.tier is Tier.NON_MTUS:
        return NON_MTUS
    if rule.letter_label:
        return guideline_family(f"Decision based on MTUS {rule.letter_label}")
    return guideline_family(f"Decision based on {rule.family}")


@dataclass(frozen=True)
class Governing:
    """The guideline an item's decision should rest on, and the encoded rule of it, if any."""

    family: str
    citation: str | None
    level: str
    rule: Rule | None


MTUS_LEVEL = "MTUS (LC 4610.5(c)(2)(A))"
OTHER_LEVEL = "peer-reviewed or nationally recognized standards (LC 4610.5(c)(2)(B)-(C))"


def governing(
    rules: list[Rule], family: str | None = None, known: Collection[str] | None = None
) -> Governing:
    """The governing guideline among *rules*: of *family* when given, else the best MTUS rule.

    *family* is the family model's choice and *known* the families it learned from its letters:
    when the best MTUS rule's family is not among them (a chapter adopted after those letters), the
    model cannot choose it, and the hierarchy does (the best MTUS rule). Without an MTUS rule (or
    when *family* is Non-MTUS) the next levels of the hierarchy apply.
    """
    mtus = [r for r in rules if r.tier is Tier.MTUS]
    if family is not None and known is not None and mtus and letter_family(mtus[0]) not in known:
        family = None
    if family is None:
        family = letter_family(mtus[0]) if mtus else NON_MTUS
    rule = next((r for r in rules if letter_family(r) == family), None)
    level = OTHER_LEVEL if family == NON_MTUS else MTUS_LEVEL
    citation = f"{rule.citation.regulation}, {rule.citation.section}" if rule else None
    return Governing(family, citation, level, rule)
