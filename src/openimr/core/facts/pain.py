"""Pain scores out of 10, with or without medication: "7/10", "rated 8 out of 10", "2-5 out of 10"."""

from __future__ import annotations

import re

from openimr.core.facts.doc import Doc
from openimr.core.facts.models import Fact

_SCORE = re.compile(
    r"(?<![\w/.-])(?P<lo>\d{1,2}(?:\.\d)?)(?:\s*(?:-|to)\s*(?P<hi>\d{1,2}(?:\.\d)?))?"
    r"\s*(?:/|out of|over|on a scale of(?: 0 to| 1 to)?)\s*10(?![\d/-])",
    re.IGNORECASE,
)
_PAIN = re.compile(r"pain|VAS|visual analog|rated|severity|score|level|hurts", re.IGNORECASE)
_MEDICATION = re.compile(
    r"(?P<without>without|w/o|off|before|prior to)(?: (?:the |his |her |taking |using ))?(?: use of)?"
    r" (?:pain )?(?:medications?|meds|analgesics?|narcotics?|opioids?)"
    r"|(?P<with>with|w/|on|after|taking)(?: (?:the |his |her ))?(?: use of)? (?:pain )?"
    r"(?:medications?|meds|analgesics?|narcotics?|opioids?)",
    re.IGNORECASE,
)


def extract(doc: Doc) -> list[Fact]:
    """A pain_score fact per score: ``number`` the (highest) score, ``qualifier`` with/without medication."""
    text = doc.text
    facts: list[Fact] = []
    for m in _SCORE.finditer(text):
        s, e = doc.sentence(m.start())
        if not _PAIN.search(text, max(s, m.start() - 80), m.start()):
            continue
        score = float(m["hi"] or m["lo"])
        if score > 10:
            continue
        # The nearest medication phrase right after the score, else right before it.
        tail = m.end() + len(text[m.end() : e]) - len(text[m.end() : e].lstrip(" ,("))
        q = _MEDICATION.match(text, tail, min(e, tail + 40)) or next(
            reversed(list(_MEDICATION.finditer(text, max(s, m.start() - 50), m.start()))), None
        )
        qualifier = None if q is None else "without_medication" if q["without"] else "with_medication"
        facts.append(
            doc.fact(
                "pain_score",
                m.group(),
                m.start(),
                m.end(),
                ignore=q.span() if q else (0, 0),
                number=score,
                unit="/10",
                qualifier=qualifier,
            )
        )
    return facts
