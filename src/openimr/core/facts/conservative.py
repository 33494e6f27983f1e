"""Failed conservative care: a failure phrase ("tried and failed", "despite", "without relief") and
the conservative treatment it is about, in the same sentence, with how long it was given when the
sentence says ("physical therapy for 8 weeks failed": ``number`` 56 days)."""

from __future__ import annotations

from openimr.core.facts.dates import durations
from openimr.core.facts.doc import Doc
from openimr.core.facts.models import Fact
from openimr.core.facts.rules import load, matcher


def _treatments(text: str, direction: str, start: int, end: int, s: int, e: int, reach: int) -> list:
    """The conservative treatments named within *reach* of a failure phrase, on its side."""
    lo, hi = (end, min(e, end + reach)) if direction == "forward" else (max(s, start - reach), start)
    return [
        (value, m)
        for name, path in (("therapy", ("therapy",)), ("medications", ()), ("conservative", ("treatment",)))
        for value, m in matcher(name, *path).finditer(text, lo, hi)
    ]


def extract(doc: Doc) -> list[Fact]:
    """``value`` the treatment (a therapy, a drug class, or "conservative_care" for general terms)."""
    text = doc.text
    reach = load("conservative")["reach"]
    facts: list[Fact] = []
    for direction, f in matcher("conservative", "failure").finditer(text):
        s, e = doc.sentence(f.start())
        treatments = _treatments(text, direction, f.start(), f.end(), s, e, reach)
        # A bare "failed" also ends a sentence about the treatment ("conservative care has failed").
        if not treatments and direction == "forward" and f.group().lower().endswith("failed"):
            direction, treatments = "backward", _treatments(text, "backward", f.start(), f.end(), s, e, reach)
        if not treatments:
            continue
        # The treatment nearest the failure phrase.
        value, m = min(
            treatments,
            key=lambda vm: vm[1].start() - f.end() if direction == "forward" else f.start() - vm[1].end(),
        )
        if value == "treatment":
            value = "conservative_care"
        lasted = max((days for days, _ in durations(text, s, e)), default=None)
        facts.append(
            doc.fact(
                "failed_conservative_care",
                value,
                min(f.start(), m.start()),
                max(f.end(), m.end()),
                number=lasted,
                unit="days" if lasted else None,
            )
        )
    return facts
