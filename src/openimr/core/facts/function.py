"""Functional improvement documented or not ("no documentation of functional improvement",
"without benefit"): value "functional" for function itself, "benefit" for a general benefit."""

from __future__ import annotations

from openimr.core.facts.doc import Doc
from openimr.core.facts.models import Fact
from openimr.core.facts.rules import matcher


def extract(doc: Doc) -> list[Fact]:
    facts = [
        doc.fact("functional_improvement", value, m.start(), m.end())
        for value, m in matcher("function", "functional_improvement").finditer(doc.text)
    ]
    negative = matcher("function", "negative")
    facts += [
        doc.fact("functional_improvement", value, m.start(), m.end(), negated=True)
        for value, m in negative.finditer(doc.text)
    ]
    # A negative phrase holds a positive target ("did not help" holds "help"): keep the negative one;
    # drop targets inside an excluded phrase ("maximal medical improvement").
    negatives = [(f.start, f.end) for f in facts if f.value == "benefit" and f.negated]
    excluded = [m.span() for _, m in matcher("function", "exclude").finditer(doc.text)]
    return [
        f
        for f in facts
        if not any(s <= f.start and f.end <= e for s, e in excluded)
        and (f.negated or not any(s <= f.start and f.end <= e for s, e in negatives))
    ]
