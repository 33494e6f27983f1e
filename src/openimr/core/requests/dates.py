"""Retrospective requests, dates of service and post-operative services."""

from __future__ import annotations

import datetime as dt
import re

from openimr.core.dates import DATE, date_of

_RETRO = re.compile(r"\bretro(?:spective(?:ly)?|active(?:ly)?)?\b|\bd\.?o\.?s\b|\bdate of service\b", re.A)
_PREFIX = r"(?:\bd\.?o\.?s\b\.?|\bdates? of service\b)\s*(?:[:#=-]\s*|\b(?:on|of|was)\b\s*)?"
_DOS = re.compile(_PREFIX + DATE + r"\b", re.A)
_POSTOP = re.compile(
    r"\bpost[- ]?op(?:erative(?:ly)?)?\b|\bpost[- ]?surg(?:ical|ery)\b|\bassociated surgical services?\b"
    r"|\bpa[- ]?assist|\bassist(?:ant|ing)?[- ](?:pa|surgeon|surgery|physician)\b|\bsurgical assist"
    r"|\bco-?surgeon\b",
    re.A,
)


def date_of_service(low: str) -> dt.date | None:
    """The explicit DOS / date of service in the lower-cased item (see :mod:`openimr.core.dates`)."""
    return date_of(m) if (m := _DOS.search(low)) else None


def retrospective(low: str) -> bool:
    """Whether the item says retrospective/retro or gives a date of service."""
    return _RETRO.search(low) is not None


def postoperative(low: str) -> bool:
    """Whether the item is post-operative, post-surgical, an associated surgical service or an assistant."""
    return _POSTOP.search(low) is not None
