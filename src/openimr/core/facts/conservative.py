"""Failed conservative care: a failure phrase ("tried and failed", "despite", "without relief") and
the conservative treatment it is about, in the same sentence."""

from __future__ import annotations

from openimr.core.facts.doc import Doc
from openimr.core.facts.models import Fact
from openimr.core.facts.rules import load, matcher


def extract(doc: Doc) -> list[Fact]:
    """``value`` the treatment (a therapy, a drug class, or "conservative_care" for general terms)."""
    text = doc.text
    reach = load("conservative")["reach"]
    facts: list[Fact] = []
    for direction, f in matcher("conservative", "failure").finditer(text):
        s, e = doc.sentence(f.start())
        lo, hi = (
            (f.end(), min(e, f.end() + reach))
            if direction == "forward"
            else (max(s, f.start() - reach), f.start())
        )
        treatments = [
            (value, m)
            for name, path in (
                ("therapy", ("therapy",)),
                ("medications", ()),
                ("conservative", ("treatment",)),
            )
            for value, m in matcher(name, *path).finditer(text, lo, hi)
        ]
        if not treatments:
            continue
        # The treatment nearest the failure phrase.
        value, m = min(
            treatments,
            key=lambda vm: vm[1].start() - f.end() if direction == "forward" else f.start() - vm[1].end(),
        )
        if value == "treatment":
            value = "conservative_care"
        facts.append(
            doc.fact("failed_conservative_care", value, min(f.start(), m.start()), max(f.end(), m.end()))
        )
    return facts
