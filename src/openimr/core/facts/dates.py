"""Dates and durations: the date of injury, time since it, and how long symptoms have lasted."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from openimr.core.dates import DATE as CALENDAR_DATE
from openimr.core.dates import MONTH, date_of, make_date, month
from openimr.core.facts.doc import Doc
from openimr.core.facts.models import Fact
from openimr.core.facts.rules import NUMBER, matcher
from openimr.core.numbers import to_int

DATE = re.compile(
    rf"(?<![\w/-])(?:{CALENDAR_DATE}|(?P<tm>{MONTH}) (?P<ty>\d{{4}})"
    rf"|(?:in|since|of|from) (?P<yy>(?:19|20)\d{{2}}))(?![\w/])",
    re.IGNORECASE,
)
_UNITS = {"day": 1, "week": 7, "month": 30, "year": 365}
DURATION = re.compile(
    rf"(?<!\w)(?:(?:for|over|of|x) (?:the )?(?:past |last |approximately |about |nearly |over |almost )?"
    rf"(?:at least |more than |greater than |over |about )?(?P<n>{NUMBER}|several|a few|many|a|an)\+? "
    rf"(?P<u>day|week|month|year)s?(?!\w)|(?P<n2>{NUMBER})[- ](?P<u2>day|week|month|year)s?[- ]"
    rf"(?:history|duration)|(?P<n3>{NUMBER}) (?P<u3>day|week|month|year)s? (?:ago|duration|prior))",
    re.IGNORECASE,
)
_INJURY = re.compile(
    r"injur(?:y|ies|ed)|date of injury|\bDOI\b|(?:occupational|industrial|work(?:ers')?) (?:claim|injury)"
    r"|claim (?:from|of)|\binjured\b|cumulative trauma",
    re.IGNORECASE,
)
_SYMPTOM = re.compile(
    r"pain|symptom|complain|ache|numbness|tingling|stiffness|swelling|headache|discomfort|present",
    re.IGNORECASE,
)
_VAGUE = {"several": 3, "a few": 3, "many": 6, "a": 1, "an": 1}


@dataclass(frozen=True, slots=True)
class DateMention:
    date: dt.date
    start: int
    end: int


@lru_cache(maxsize=4)
def dates(text: str) -> tuple[DateMention, ...]:
    """Every calendar date in *text* (month-day-year, ISO, 'October 10, 2015', 'March 2015', 'in 2014').

    Cached for the few components that read the dates of the same summary."""
    found: list[DateMention] = []
    for m in DATE.finditer(text):
        start = m.start()
        if m["tm"]:
            date = make_date(int(m["ty"]), month(m["tm"]), 1)
        elif m["yy"]:
            date, start = dt.date(int(m["yy"]), 7, 1), m.start("yy")
        else:
            date = date_of(m)
        if date and 1950 <= date.year <= 2100:
            found.append(DateMention(date, start, m.end()))
    return tuple(found)


def _days(n: str, unit: str) -> int:
    count = _VAGUE.get(n.lower()) or to_int(n)
    return count * _UNITS[unit.lower()]


def durations(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, re.Match]]:
    """(days, match) for each stated duration ('for 6 months', '17 days', '2-year history')."""
    out = []
    for m in DURATION.finditer(text, start, len(text) if end is None else end):
        n = m["n"] or m["n2"] or m["n3"]
        unit = m["u"] or m["u2"] or m["u3"]
        out.append((_days(n, unit), m))
    return out


def extract(doc: Doc) -> list[Fact]:
    """Date of injury, days from it to the latest date mentioned, and symptom durations."""
    text = doc.text
    found = dates(text)
    facts: list[Fact] = []
    injury = next(
        (d for d in found if _INJURY.search(text, max(doc.sentence(d.start)[0], d.start - 90), d.start)),
        None,
    )
    if injury:
        facts.append(
            doc.fact("injury_date", injury.date.isoformat(), injury.start, injury.end, date=injury.date)
        )
        latest = max(d.date for d in found)
        if latest > injury.date:
            facts.append(
                doc.fact(
                    "time_since_injury",
                    f"{(latest - injury.date).days} days",
                    injury.start,
                    injury.end,
                    number=(latest - injury.date).days,
                    unit="days",
                    date=injury.date,
                )
            )
    for days, m in durations(text):
        s, e = doc.sentence(m.start())
        if _SYMPTOM.search(text, s, e) and not any(
            True for _ in matcher("medications").finditer(text, s, m.start())
        ):
            facts.append(
                doc.fact("symptom_duration", m.group(), m.start(), m.end(), number=days, unit="days")
            )
    return facts
