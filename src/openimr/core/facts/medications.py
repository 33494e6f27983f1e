"""Medication history: which drugs (and their class), since when and for how long."""

from __future__ import annotations

import re

from openimr.core.facts.dates import dates, durations
from openimr.core.facts.doc import Doc
from openimr.core.facts.models import Fact
from openimr.core.facts.rules import matcher

_SINCE = re.compile(r"\b(?:since|starting|started(?: on)?(?: \w+)? in|beginning)\s*$", re.IGNORECASE)
_LONG_TERM = re.compile(
    r"\b(?:long[- ]term|chronic(?:ally)?|ongoing|continued|extended|prolonged)\b", re.IGNORECASE
)


def extract(doc: Doc) -> list[Fact]:
    """One fact per drug mention: value the name as written (lower case), qualifier its class;
    ``date`` a start date ("since 2014") and ``number`` the days of use, stated ("for at least 6
    months") or from the start date to the latest date in the summary."""
    text = doc.text
    all_dates = dates(text)
    latest = max((d.date for d in all_dates), default=None)
    mentions = list(matcher("medications").finditer(text))
    facts: list[Fact] = []
    for i, (drug_class, m) in enumerate(mentions):
        s, e = doc.sentence(m.start())
        # The drug's own stretch of the sentence: up to the next drug mention.
        nxt = next((n.start() for _, n in mentions[i + 1 :] if n.start() < e), e)
        since = next(
            (d for d in all_dates if m.end() <= d.start < nxt and _SINCE.search(text, m.end(), d.start)),
            None,
        )
        stated = next(iter(durations(text, m.end(), nxt)), None)
        days = stated[0] if stated else None
        if days is None and since and latest and latest > since.date:
            days = (latest - since.date).days
        end = max(m.end(), since.end if since else 0, stated[1].end() if stated else 0)
        fields = {"date": since.date if since else None, "number": days, "unit": "days" if days else None}
        if _LONG_TERM.search(text, max(s, m.start() - 40), m.start()):
            fields["historical"] = True
        facts.append(
            doc.fact("medication", m.group().lower(), m.start(), end, qualifier=drug_class, **fields)
        )
    return facts
