"""``parse(text) -> Request``: one disputed item's free text as a structured request.

A pipeline of small steps over the item (medspaCy-like, one component per module): dates/flags,
counts, category, then the drug or the anatomy. Bad input (empty, over-long, binary, not English)
gives a ``Request`` of category "other" with nulls; ``parse`` never raises on a string.
"""

from __future__ import annotations

import re

from openimr.core.requests import anatomy, counts, dates, drug
from openimr.core.requests.category import classify
from openimr.core.requests.model import Request

MAX_CHARS = 2000  # longer text is not one item
_WS = re.compile(r"\s+")
_BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_FRAMING = re.compile(
    r"\bassociated surgical services?\s*:?|\bpost[- ]?op(?:erative(?:ly)?)?\b|\bpre[- ]?op(?:erative)?\b"
    r"|\bpost[- ]?surg(?:ical|ery)\b|\bretro(?:spective|active)?\b|\bstatus post\b|\bs/p\b",
    re.A,
)
VISIT_TYPES = frozenset(
    {
        "physical_therapy",
        "occupational_therapy",
        "chiropractic",
        "acupuncture",
        "massage",
        "electrotherapy",
        "psychological",
        "evaluation",
        "consultation",
        "home_health",
        "program",
    }
)
NO_DURATION = frozenset({"drug", "imaging", "diagnostic_test", "lab", "injection", "surgery"})
_DEVICE = re.compile(r"\b(?:units?|device|rental|purchase|trial|supplies|electrodes|batter(?:y|ies))\b", re.A)


def _unreadable(text: str) -> bool:
    """Whether *text* is not an item: empty, over-long, binary, or mostly non-Latin letters."""
    if not text or len(text) > MAX_CHARS or _BINARY.search(text):
        return True
    if _NON_ASCII.search(text):
        letters = [c for c in text if c.isalpha()]
        latin = sum(c.isascii() for c in letters)
        return latin < 0.8 * len(letters)
    return not any(c.isalpha() for c in text)


def parse(text: str) -> Request:
    """The structured request in one item's *text*."""
    if not isinstance(text, str) or _unreadable(text):
        return Request()
    item = _WS.sub(" ", text).strip()
    low = item.lower()
    core = _FRAMING.sub(" ", low).strip(" :,-")
    visits = counts.read(low)
    category = classify(core, visits.stated)
    retro = dates.retrospective(low)
    dos = dates.date_of_service(low) if retro else None
    postop = dates.postoperative(low)
    if category == "drug":
        return Request(
            category="drug",
            drug=drug.read(item),
            retrospective=retro,
            date_of_service=dos,
            postoperative=postop,
        )
    parts = anatomy.read(low)
    visit = category in VISIT_TYPES and not (category == "electrotherapy" and _DEVICE.search(low))
    return Request(
        category=category,
        sessions=visits.sessions if visit else None,
        frequency_per_week=visits.frequency_per_week if visit else None,
        duration_weeks=visits.duration_weeks if category not in NO_DURATION else None,
        body_parts=parts.parts,
        body_regions=parts.regions,
        laterality=parts.laterality,
        retrospective=retro,
        date_of_service=dos,
        postoperative=postop,
    )
