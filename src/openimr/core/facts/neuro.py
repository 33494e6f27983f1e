"""Neurologic deficits, red flags and signs of internal joint derangement, and normal findings that
deny a deficit ("neurologically intact")."""

from __future__ import annotations

from openimr.core.facts.doc import Doc
from openimr.core.facts.models import Fact
from openimr.core.facts.rules import matcher


def extract(doc: Doc) -> list[Fact]:
    text = doc.text
    normal = [
        (kind, value, m)
        for kind in ("neuro_deficit",)
        for value, m in matcher("neuro", "normal", kind).finditer(text)
    ]
    taken = [(m.start(), m.end()) for _, _, m in normal]
    facts = [doc.fact(kind, value, m.start(), m.end(), negated=True) for kind, value, m in normal]
    for kind in ("neuro_deficit", "red_flag", "internal_derangement"):
        for value, m in matcher("neuro", kind).finditer(text):
            if not any(s < m.end() and m.start() < e for s, e in taken):
                facts.append(doc.fact(kind, value, m.start(), m.end()))
    return facts
