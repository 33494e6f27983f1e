"""Retrospective requests, dates of service and post-operative services."""

from __future__ import annotations

import datetime as dt
import re

_RETRO = re.compile(r"\bretro(?:spective(?:ly)?|active(?:ly)?)?\b|\bd\.?o\.?s\b|\bdate of service\b", re.A)
_PREFIX = r"(?:\bd\.?o\.?s\b\.?|\bdates? of service\b)\s*(?:[:#=-]\s*|\b(?:on|of|was)\b\s*)?"
_NUMERIC = re.compile(_PREFIX + r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})\b", re.A)
_ISO = re.compile(_PREFIX + r"(\d{4})-(\d{1,2})-(\d{1,2})\b", re.A)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_NAMED = re.compile(
    _PREFIX + r"(" + "|".join(_MONTHS) + r")[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b", re.A
)
_POSTOP = re.compile(
    r"\bpost[- ]?op(?:erative(?:ly)?)?\b|\bpost[- ]?surg(?:ical|ery)\b|\bassociated surgical services?\b"
    r"|\bpa[- ]?assist|\bassist(?:ant|ing)?[- ](?:pa|surgeon|surgery|physician)\b|\bsurgical assist"
    r"|\bco-?surgeon\b",
    re.A,
)


def _date(year: int, month: int, day: int) -> dt.date | None:
    if year < 100:
        year += 2000
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def date_of_service(low: str) -> dt.date | None:
    """The explicit DOS / date of service in the lower-cased item (two-digit years are 20yy)."""
    if m := _NUMERIC.search(low):
        return _date(int(m[3]), int(m[1]), int(m[2]))
    if m := _ISO.search(low):
        return _date(int(m[1]), int(m[2]), int(m[3]))
    if m := _NAMED.search(low):
        return _date(int(m[3]), _MONTHS.index(m[1]) + 1, int(m[2]))
    return None


def retrospective(low: str) -> bool:
    """Whether the item says retrospective/retro or gives a date of service."""
    return _RETRO.search(low) is not None


def postoperative(low: str) -> bool:
    """Whether the item is post-operative, post-surgical, an associated surgical service or an assistant."""
    return _POSTOP.search(low) is not None
