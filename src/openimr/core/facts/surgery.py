"""Surgery and its date: "status post right carpal tunnel release on 11-9-2016"."""

from __future__ import annotations

import re
from functools import cache

from openimr.core.facts.dates import dates
from openimr.core.facts.doc import Doc
from openimr.core.facts.models import Fact
from openimr.core.facts.rules import load, matcher

_STOP = re.compile(r"[^.;]*?(?:\b(?:on|in|dated|performed|done)\b|,)\s*$", re.IGNORECASE)


@cache
def _descriptors() -> re.Pattern:
    return re.compile(rf"(?:(?:{load('surgery')['descriptor']})[\s/-]+){{0,5}}$", re.IGNORECASE)


def extract(doc: Doc) -> list[Fact]:
    """``value`` the procedure as written (with its descriptors), ``date`` the first date after it
    in the sentence ("on 11-9-2016", "in 2015")."""
    text = doc.text
    all_dates = dates(text)
    facts: list[Fact] = []
    for _, m in matcher("surgery", "procedure").finditer(text):
        s, e = doc.sentence(m.start())
        head = text[max(s, m.start() - 80) : m.start()]
        start = m.start() - len(head) + _descriptors().search(head).start()
        after = next((d for d in all_dates if m.end() <= d.start < min(e, m.end() + 40)), None)
        end = after.end if after and _STOP.match(text, m.end(), after.start) else m.end()
        facts.append(
            doc.fact(
                "surgery",
                re.sub(r"\s+", " ", text[start : m.end()]).lower(),
                start,
                end,
                date=after.date if end != m.end() else None,
            )
        )
    return facts
