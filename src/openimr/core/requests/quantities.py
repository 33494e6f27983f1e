"""Quantities an item line states that :class:`~openimr.core.requests.Request` does not carry: the
spinal levels named, the injections asked for, the hours of care a week and a stated period.

Each helper returns ``None`` when the text does not say; none of them guesses.
"""

from __future__ import annotations

import re

from openimr.core.numbers import WORDS, to_int

# Vertebrae in order: C1-C7, T1-T12, L1-L5, S1 (a level is the segment between two of them).
_FIRST = {"c": 0, "t": 7, "l": 19, "s": 24}
_SIZE = {"c": 7, "t": 12, "l": 5, "s": 1}
_LEVEL = re.compile(
    r"(?<![a-z0-9])(?P<a>[ctls])(?P<an>\d{1,2})(?:\s*[-/]\s*(?P<b>[ctls])?(?P<bn>\d{1,2}))?(?![a-z0-9])",
    re.I,
)
_COUNT = rf"(?P<n>\d{{1,2}}|{WORDS})"
_LEVEL_COUNT = re.compile(rf"\b{_COUNT}[- ]levels?\b", re.I)
_INJECTIONS = re.compile(
    rf"\b{_COUNT}\s+(?:trigger[- ]point\s+)?(?:injections|trigger[- ]points)\b"
    r"|\b(?:injections?|tpis?)\s*(?:\(|x|#)\s*(?P<x>\d{1,2})\b",
    re.I,
)
_HOURS_WEEK = re.compile(
    r"\b(?P<n>\d{1,3}(?:\.\d)?)\s*(?:hours?|hrs?)\s*(?:per|a|/|each)\s*(?:week|wk)\b", re.I
)
_HOURS_DAY = re.compile(r"\b(?P<n>\d{1,2}(?:\.\d)?)\s*(?:hours?|hrs?)\s*(?:per|a|/|each)\s*day\b", re.I)
_PERIOD = re.compile(r"\b(?P<n>\d{1,3})[- ]?(?P<u>days?|weeks?|months?)\b", re.I)
_PERIOD_WEEKS = {"d": 1 / 7, "w": 1.0, "m": 4.345}


def _vertebra(letter: str, number: str) -> int | None:
    n = int(number)
    key = letter.lower()
    return _FIRST[key] + n if 1 <= n <= _SIZE[key] else None


def levels_named(text: str) -> int | None:
    """How many spinal levels *text* names: "L4-5, L5-S1" is 2, "L3-S1" is 3 (a range counts each
    segment in it), a single vertebra ("L5", a nerve root) is 1; else a stated count ("two levels").
    None when it names no level."""
    segments: set[tuple[int, int]] = set()
    for m in _LEVEL.finditer(text):
        lo = _vertebra(m["a"], m["an"])
        hi = lo if m["bn"] is None else _vertebra(m["b"] or m["a"], m["bn"])
        if lo is None or hi is None or hi < lo:
            continue
        segments |= {(lo, lo)} if hi == lo else {(v, v + 1) for v in range(lo, hi)}
    if segments:
        return len(segments)
    stated = _LEVEL_COUNT.search(text)
    return to_int(stated["n"]) if stated else None


def injections_named(text: str) -> int | None:
    """The number of injections *text* asks for ("4 trigger point injections", "TPI x 3"), or None."""
    m = _INJECTIONS.search(text)
    if m is None:
        return None
    return int(m["x"]) if m["x"] else to_int(m["n"])


def hours_per_week(text: str, days_per_week: float | None) -> float | None:
    """Hours of care a week: stated ("20 hours per week"), or hours a day times *days_per_week*
    (the request's frequency); None when neither is stated."""
    if m := _HOURS_WEEK.search(text):
        return float(m["n"])
    if (m := _HOURS_DAY.search(text)) and days_per_week is not None:
        return float(m["n"]) * days_per_week
    return None


def period_weeks(text: str) -> float | None:
    """A period the item states ("30 day trial", "rental x 2 weeks", "1 month"), in weeks, or None."""
    m = _PERIOD.search(text)
    return None if m is None else int(m["n"]) * _PERIOD_WEEKS[m["u"][0].lower()]
