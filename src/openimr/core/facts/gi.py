"""GI risk factors for NSAIDs: age over 65, GI bleed or ulcer, GERD, dyspepsia, and concurrent
aspirin, corticosteroids or anticoagulants."""

from __future__ import annotations

import re

from openimr.core.facts.doc import Doc
from openimr.core.facts.models import Fact
from openimr.core.facts.rules import load, matcher

_AGE = re.compile(
    r"(?<![\w.])(?P<n>\d{2,3})[- ](?:year|yr)s?[- ]old\b|\bage (?:of )?(?P<m>\d{2,3})\b", re.IGNORECASE
)


def extract(doc: Doc, medications: list[Fact]) -> list[Fact]:
    """The age, GI conditions, and a gi_risk fact per aspirin/steroid/anticoagulant in *medications*."""
    text = doc.text
    rules = load("gi")
    facts: list[Fact] = []
    if age := _AGE.search(text):
        years = int(age["n"] or age["m"])
        facts.append(doc.fact("age", str(years), age.start(), age.end(), number=years, unit="years"))
        if years > rules["age_over"]:
            facts.append(
                doc.fact("gi_risk", f"age_over_{rules['age_over']}", age.start(), age.end(), number=years)
            )
    facts += [
        doc.fact("gi_risk", value, m.start(), m.end()) for value, m in matcher("gi", "gi_risk").finditer(text)
    ]
    facts += [
        f.model_copy(update={"kind": "gi_risk", "value": f.qualifier})
        for f in medications
        if f.qualifier in rules["drug_classes"]
    ]
    return facts
