"""Visits asked for: a stated count, a frequency per week and a duration in weeks.

Rules, applied in this order, each consuming the text it reads: frequencies ("2-3 times a week",
"twice weekly", "3 visits per week"), "N x M" without "week" (N a week for M weeks), durations
("for 6 weeks", "x 6 weeks"), then stated counts ("#12", "(8)", "12 sessions", "sessions, 12",
"times 12"), which are summed. Ranges give their upper bound.
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

from openimr.core.numbers import WORDS
from openimr.core.requests.regexes import trie
from openimr.core.requests.resources import tidy, times_words, to_number


class Counts(NamedTuple):
    """What an item says about visits; ``None`` where it does not say."""

    sessions: int | None
    frequency_per_week: int | float | None
    duration_weeks: int | float | None

    @property
    def stated(self) -> bool:
        """Whether a count or a frequency is stated (durations alone are not visits)."""
        return self.sessions is not None or self.frequency_per_week is not None


class _Rules(NamedTuple):
    any_number: re.Pattern[str]
    paren_dup: re.Pattern[str]
    frequency: re.Pattern[str]
    frequency_word: re.Pattern[str]
    daily: re.Pattern[str]
    by: re.Pattern[str]
    duration: re.Pattern[str]
    count_hash: re.Pattern[str]
    count_paren: re.Pattern[str]
    count_before: re.Pattern[str]
    count_after: re.Pattern[str]
    count_times: re.Pattern[str]


@cache
def _rules() -> _Rules:
    n = rf"(?:\d+(?:\.\d+)?|{WORDS})"
    rng = rf"(?P<a>{n})(?:\s*(?:-|to|or)\s*(?P<b>{n}))?"
    rng2 = rng.replace("<a>", "<c>").replace("<b>", "<d>")
    visit = r"(?:sessions?|visits?|treatments?|appointments?)"
    week = r"(?:weeks?|wks?)\b"
    middle = rf"(?:x|times?|{visit}|days?)"
    sep = r"(?:a|per|each|every|/|in a)"
    per = (
        rf"(?:{middle}\s*(?:{sep}\s*)?{week}"
        rf"|(?:{middle}\s*)?(?:(?:a|per|each|every|in a)\s+{week}|weekly\b|/\s*{week}))"
    )
    return _Rules(
        any_number=re.compile(rf"\d|\b(?:{WORDS}|{trie([*times_words(), 'daily', 'every day'])})\b", re.A),
        paren_dup=re.compile(rf"\b({n})\s*\((\d+)\)", re.A),
        frequency=re.compile(rf"\b{rng}\s*{per}", re.A),
        frequency_word=re.compile(
            r"\b(once|twice|thrice)\s*(?:a|per|each|every|/)?\s*(?:week\b|weekly\b|wk\b)", re.A
        ),
        daily=re.compile(r"\bdaily\b|\bevery day\b|\b7 days a week\b", re.A),
        by=re.compile(
            rf"\b{rng}\s*(?:x|times)\s*(?P<c>{n})(?:\s*(?:-|to)\s*(?P<d>{n}))?(?:\s*{week})?", re.A
        ),
        duration=re.compile(rf"\b{rng}[\s-]*{week}", re.A),
        count_hash=re.compile(r"#\s*(?P<a>\d+)", re.A),
        count_paren=re.compile(r"\(\s*(?P<a>\d+)\s*\)", re.A),
        count_before=re.compile(rf"\b{rng}\s+(?:[a-z/&-]+\s+){{0,3}}?{visit}\b", re.A),
        count_after=re.compile(
            rf"\b{visit}\s*[,:]?\s*(?:#\s*)?{rng2}\b(?!\s*(?:x\b|times|{week}|/|per\b|a week))", re.A
        ),
        count_times=re.compile(
            rf"(?:\bx|\btimes|\bqty|\bquantity)\s*[:#]?\s*{rng}\b(?!\s*(?:{week}|a\b|per\b|/))", re.A
        ),
    )


def _upper(m: re.Match[str], a: str = "a", b: str = "b") -> float | None:
    groups = m.groupdict()
    high = groups.get(b) or groups.get(a)
    return to_number(high) if high else None


def _blank(text: str, m: re.Match[str]) -> str:
    return text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]


def _dedupe_paren(m: re.Match[str]) -> str:
    return m[1] if to_number(m[1]) == float(m[2]) else m[0]


def read(low: str) -> Counts:
    """Sessions, frequency per week and weeks stated in the lower-cased item."""
    r = _rules()
    if not r.any_number.search(low):
        return Counts(None, None, None)
    text = r.paren_dup.sub(_dedupe_paren, low)
    freq = weeks = None
    if m := r.frequency.search(text):
        freq, text = _upper(m), _blank(text, m)
    elif m := r.frequency_word.search(text):
        freq, text = float(times_words()[m[1]]), _blank(text, m)
    elif m := r.by.search(text):
        freq, weeks, text = _upper(m), _upper(m, "c", "d"), _blank(text, m)
    elif r.daily.search(text):
        freq = 7.0
    if weeks is None and (m := r.duration.search(text)):
        weeks, text = _upper(m), _blank(text, m)
    total, stated = 0.0, False
    for pattern in (r.count_hash, r.count_paren, r.count_before):
        for m in pattern.finditer(text):
            total += _upper(m) or 0
            stated = True
            text = _blank(text, m)
    if not stated:
        for m in r.count_after.finditer(text):
            total += _upper(m, "c", "d") or 0
            stated = True
    if not stated and (m := r.count_times.search(text)):
        total, stated = _upper(m) or 0, True
    if stated:
        sessions = round(total)
    elif freq is not None and weeks is not None:
        sessions = round(freq * weeks)
    else:
        sessions = None
    return Counts(sessions, tidy(freq), tidy(weeks))
