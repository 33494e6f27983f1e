"""Dates as the letters print them (``11/18/2016``, ``11-9-16``, ``October 10, 2015``) to ISO."""

from __future__ import annotations

import datetime as dt
import re

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}

DATE_PATTERN = (
    r"(?:\d{1,2}\s*[/-]\s*\d{1,2}\s*[/-]\s*\d{2,4}"
    r"|\d{4}-\d{2}-\d{2}"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4})"
)
_NUMERIC = re.compile(r"(\d{1,2})\s*[/-]\s*(\d{1,2})\s*[/-]\s*(\d{2,4})$")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})$")
_WORDS = re.compile(r"([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})$")


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:  # the letters' two-digit years are 20yy unless that lies far ahead
        year += 2000 if year <= 50 else 1900
    return year


def parse_date(text: str | None) -> dt.date | None:
    """A date in any of the letters' forms, or ``None`` when *text* is no valid date."""
    if not text:
        return None
    text = text.strip()
    try:
        if m := _NUMERIC.match(text):
            return dt.date(_year(m[3]), int(m[1]), int(m[2]))
        if m := _ISO.match(text):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if (m := _WORDS.match(text)) and (month := _MONTHS.get(m[1].lower())):
            return dt.date(int(m[3]), month, int(m[2]))
    except ValueError:
        return None
    return None
