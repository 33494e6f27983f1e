"""Urine drug screen history: performed or not, when, and consistent or inconsistent."""

from __future__ import annotations

from openimr.core.facts.dates import dates
from openimr.core.facts.doc import Doc
from openimr.core.facts.models import Fact
from openimr.core.facts.rules import matcher


def extract(doc: Doc) -> list[Fact]:
    """value "performed" (negated when none was, hypothetical when only requested); ``qualifier``
    the stated result, ``date`` the nearest date in the sentence."""
    text = doc.text
    all_dates = dates(text)
    facts: list[Fact] = []
    for _, m in matcher("uds", "test").finditer(text):
        s, e = doc.sentence(m.start())
        result = next(iter(matcher("uds", "result").finditer(text, s, e)), None)
        near = [d for d in all_dates if s <= d.start < e]
        date = min(near, key=lambda d: abs(d.start - m.start())).date if near else None
        facts.append(
            doc.fact(
                "urine_drug_screen",
                "performed",
                m.start(),
                m.end(),
                qualifier=result[0] if result else None,
                date=date,
            )
        )
    return facts
