"""``extract_facts``: run every component over a summary."""

from __future__ import annotations

from functools import cache

from openimr.core.facts import (
    conservative,
    dates,
    function,
    gi,
    medications,
    neuro,
    pain,
    surgery,
    therapy,
    uds,
    ur,
    work,
)
from openimr.core.facts.context import context
from openimr.core.facts.doc import Doc
from openimr.core.facts.models import Facts
from openimr.core.facts.rules import matcher


@cache
def warm_up() -> None:
    """Compile every rule file once (the first call otherwise pays for it)."""
    context()
    extract_facts("A 70-year-old on Norco since 2014 had 6 sessions of physical therapy on 1-2-2016.")
    matcher("ur", "review")


def extract_facts(summary: str) -> Facts:
    """Every fact the components find in *summary*, in text order. Pure: same text, same facts."""
    doc = Doc(summary or "")
    meds = medications.extract(doc)
    found = [
        *therapy.extract(doc),
        *function.extract(doc),
        *pain.extract(doc),
        *dates.extract(doc),
        *surgery.extract(doc),
        *neuro.extract(doc),
        *conservative.extract(doc),
        *meds,
        *gi.extract(doc, meds),
        *uds.extract(doc),
        *work.extract(doc),
        *ur.extract(doc),
    ]
    return Facts(facts=sorted(found, key=lambda f: (f.start, f.end, f.kind)))
