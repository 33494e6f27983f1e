"""Header fields, the reviewer's credentials and the claimant, from their sections' text."""

from __future__ import annotations

import datetime as dt
import re
from itertools import islice

from openimr.core.dates import DATE, date_of
from openimr.core.letters import layout
from openimr.core.models import Claimant, Reviewer
from openimr.core.numbers import WORDS as NUMBER_WORDS
from openimr.core.numbers import to_int


def collapse(text: str | None) -> str | None:
    """Whitespace runs to one space, trimmed; ``None`` for ``None`` or blank."""
    if text is None:
        return None
    out = " ".join(text.split())
    return out or None


def _label(label: str) -> str:
    return r"\s*".join(re.escape(w) for w in label.split())


_DATE_FIELDS = ("date_assigned", "date_of_injury", "decision_date", "ur_denial_date", "application_received")
_DATE_RES = {
    field: re.compile(_label(layout.HEADER_LABELS[field]) + r"\s*" + DATE, re.IGNORECASE)
    for field in _DATE_FIELDS
}
_CASE_RE = re.compile(_label(layout.HEADER_LABELS["case_number"]) + r"\s*([A-Z]{2}\d{2}-\d{4,})", re.I)
_PRIORITY_RE = re.compile(_label(layout.HEADER_LABELS["priority"]) + r"\s*(Standard|Expedited)", re.I)


def header_fields(header: str) -> dict[str, str | dt.date | None]:
    """Case number, the five dates and the priority named in the header block (absent: ``None``)."""
    text = " ".join(header.split())
    out: dict[str, str | dt.date | None] = {
        field: date_of(m) if (m := rx.search(text)) else None for field, rx in _DATE_RES.items()
    }
    out["case_number"] = m[1].upper() if (m := _CASE_RE.search(text)) else None
    out["priority"] = m[1].capitalize() if (m := _PRIORITY_RE.search(text)) else None
    return out


_LICENSE_RE = re.compile(
    _label(layout.LICENSE_LABEL) + r"(.*?)(?=" + _label(layout.SPECIALTY_LABEL) + "|$)", re.I
)
_SPECIALTY_RE = re.compile(_label(layout.SPECIALTY_LABEL) + r"(.*)$", re.I)
# Older letters state the credentials in a sentence: "The expert reviewer is a Licensed
# Acupuncturist and is licensed to practice in California." or "... is Board Certified in X,
# has a subspecialty in Y and is licensed to practice in Z."
_PROSE_RE = re.compile(
    r"expert reviewer is\s+(?:(?:an?|the)\s+)?(.+?),?\s+and\s+is\s+licensed\s+to\s+practice"
    r"\s+in\s+(.+?)\.(?:\s|$)",
    re.I,
)
_SUBSPECIALTY_SPLIT = re.compile(r",?\s*(?:and\s+)?has\s+(?:a\s+)?sub-?specialt(?:y|ies)\s+in\s+", re.I)
_BOARD = re.compile(r"^board[\s-]+certified\s+in\s+", re.I)


def _split_list(text: str) -> list[str]:
    return [part for part in (collapse(p) for p in text.split(",")) if part]


def credentials(how: str) -> Reviewer:
    """The reviewer's licence states and specialties from the how-made section (block or prose)."""
    text = " ".join(how.split())
    lic, spec = _LICENSE_RE.search(text), _SPECIALTY_RE.search(text)
    if lic or spec:
        return Reviewer(
            license_states=_split_list(lic[1]) if lic else [],
            specialties=_split_list(spec[1]) if spec else [],
        )
    if m := _PROSE_RE.search(text):
        specialties = [_BOARD.sub("", p).strip() for p in _SUBSPECIALTY_SPLIT.split(m[1])]
        states = re.split(r",\s*(?:and\s+)?|\s+and\s+", m[2])
        return Reviewer(
            license_states=[s.strip() for s in states if s.strip()],
            specialties=[s for s in specialties if s],
        )
    return Reviewer()


_AGE_RE = re.compile(r"\b(\d{1,3}|" + NUMBER_WORDS + r")\s*-?\s*(?:year|yr)s?\s*-?\s*old\b", re.I)


_SEX_RE = re.compile(r"\b(male|female|man|woman|gentleman|lady)\b", re.I)
_SEX = {
    "male": "male",
    "man": "male",
    "gentleman": "male",
    "female": "female",
    "woman": "female",
    "lady": "female",
}
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z\"(])")


def claimant(summary: str | None, sentences: int = 3) -> Claimant:
    """Age and sex as the summary's opening sentences state them (else ``None``)."""
    if not summary:
        return Claimant()
    ends = [m.end() for m in islice(_SENTENCE_END.finditer(summary), sentences)]
    opening = summary[: ends[sentences - 1]] if len(ends) >= sentences else summary
    age = _AGE_RE.search(opening)
    sex = _SEX_RE.search(opening)
    return Claimant(
        age=value if age and 0 < (value := to_int(age[1])) < 120 else None,
        sex=_SEX[sex[1].lower()] if sex else None,  # type: ignore[arg-type]
    )
