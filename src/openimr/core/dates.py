"""Calendar dates as IMR records write them, read the same way by every reader.

The forms: month/day/year with the same separator twice (``11/18/2016``, ``11-9-16``, ``3.4.65``,
space allowed around it), ISO (``2016-11-18``) and a month's name (``October 10, 2015``,
``Sept. 3rd 2014``). A two-digit year is 20yy up to :data:`PIVOT` and 19yy above it, so ``3/4/65``
is 1965-03-04 and ``11-9-16`` is 2016-11-09: the records' dates of injury reach back to the 1960s
and their decisions lie before 2050.

The patterns are regex fragments with named groups; :func:`date_of` reads a match of
:data:`DATE` (alone or inside a larger pattern) as a date.
"""

from __future__ import annotations

import datetime as dt
import re

PIVOT = 50

_NAMES = (
    ("january", "jan"),
    ("february", "feb"),
    ("march", "mar"),
    ("april", "apr"),
    ("may",),
    ("june", "jun"),
    ("july", "jul"),
    ("august", "aug"),
    ("september", "sept", "sep"),
    ("october", "oct"),
    ("november", "nov"),
    ("december", "dec"),
)
MONTHS: dict[str, int] = {name: i for i, names in enumerate(_NAMES, start=1) for name in names}
"""Month names and their abbreviations (lower case) -> month number."""

MONTH = r"(?i:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?)"
"""A month's name or abbreviation in any case, with an optional period."""

NUMERIC = r"(?P<m>\d{1,2})\s*(?P<sep>[/.-])\s*(?P<d>\d{1,2})\s*(?P=sep)\s*(?P<y>\d{4}|\d{2})"
ISO = r"(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})"
NAMED = rf"(?P<nm>{MONTH})\s+(?P<nd>\d{{1,2}})(?i:st|nd|rd|th)?,?\s+(?P<ny>\d{{4}})"
DATE = rf"(?:{NUMERIC}|{ISO}|{NAMED})"
"""Any of the three forms (its groups named as in :data:`NUMERIC`, :data:`ISO`, :data:`NAMED`)."""

_DATE = re.compile(DATE)


def year(text: str) -> int:
    """The year *text* writes: four digits as they stand, two digits by the :data:`PIVOT` rule."""
    n = int(text)
    if len(text) <= 2:
        n += 2000 if n <= PIVOT else 1900
    return n


def month(name: str) -> int | None:
    """The month a name or abbreviation ('Sept.', 'october') stands for, or ``None``."""
    word = name.strip().lower().rstrip(".")
    return MONTHS.get(word) or MONTHS.get(word[:3])


def make_date(y: int, m: int | None, d: int) -> dt.date | None:
    """The date, or ``None`` when there is no such day (``2/30``, month 13)."""
    try:
        return dt.date(y, m, d) if m else None
    except ValueError:
        return None


def date_of(m: re.Match[str]) -> dt.date | None:
    """The date a match of :data:`DATE` stands for (``None`` when it names no real day)."""
    g = m.groupdict()
    if g.get("m"):
        return make_date(year(g["y"]), int(g["m"]), int(g["d"]))
    if g.get("iy"):
        return make_date(int(g["iy"]), int(g["im"]), int(g["id"]))
    if g.get("nm"):
        return make_date(int(g["ny"]), month(g["nm"]), int(g["nd"]))
    return None


def parse_date(text: str | None) -> dt.date | None:
    """*text* as a date when it is one in any of the forms, else ``None``."""
    m = _DATE.fullmatch(text.strip()) if text else None
    return date_of(m) if m else None


def long_date(day: dt.date) -> str:
    """*day* as people write it, whatever their locale's short form: "December 17, 2026"."""
    return f"{day:%B} {day.day}, {day.year}"


def utc_now() -> dt.datetime:
    """The current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)
