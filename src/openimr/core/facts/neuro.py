"""Neurologic findings, red flags and signs of internal joint derangement, and normal findings that
deny a deficit ("neurologically intact").

A neurologic fact's ``qualifier`` says what kind of statement it is: "objective" for a finding of
the examination, imaging or electrodiagnostics ("4/5 strength", "positive straight leg raise",
"EMG showed radiculopathy"), "complaint" for a symptom the patient reports or a diagnosis named
without its findings ("numbness", "weakness", "sciatica"). A complaint word said of the
examination, in a sentence that reports no complaint before it, is a finding. The patterns are
data (``targets/neuro.yaml``).
"""

from __future__ import annotations

from openimr.core.facts.doc import Doc
from openimr.core.facts.models import Fact
from openimr.core.facts.rules import matcher

OBJECTIVE, COMPLAINT = "objective", "complaint"


def _said_of_exam(doc: Doc, start: int) -> bool:
    """Whether the words before *start* in its sentence name the examination, and no complaint."""
    s, _ = doc.sentence(start)
    text = doc.text
    exam = [m.end() for _, m in matcher("neuro", "exam_context").finditer(text, s, start)]
    if not exam:
        return False
    complaint = [m.end() for _, m in matcher("neuro", "complaint_context").finditer(text, s, start)]
    return not complaint or max(complaint) < max(exam)


def extract(doc: Doc) -> list[Fact]:
    text = doc.text
    normal = [
        (kind, value, m)
        for kind in ("neuro_deficit",)
        for value, m in matcher("neuro", "normal", kind).finditer(text)
    ]
    taken = [(m.start(), m.end()) for _, _, m in normal]
    facts = [
        doc.fact(kind, value, m.start(), m.end(), negated=True, qualifier=OBJECTIVE)
        for kind, value, m in normal
    ]

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e in taken)

    for value, m in matcher("neuro", "neuro_deficit").finditer(text):
        if free(m.start(), m.end()):
            facts.append(doc.fact("neuro_deficit", value, m.start(), m.end(), qualifier=OBJECTIVE))
            taken.append(m.span())
    for value, m in matcher("neuro", "complaint").finditer(text):
        if free(m.start(), m.end()):
            qualifier = OBJECTIVE if _said_of_exam(doc, m.start()) else COMPLAINT
            facts.append(doc.fact("neuro_deficit", value, m.start(), m.end(), qualifier=qualifier))
    for kind in ("red_flag", "internal_derangement"):
        for value, m in matcher("neuro", kind).finditer(text):
            if free(m.start(), m.end()):
                facts.append(doc.fact(kind, value, m.start(), m.end()))
    return facts
