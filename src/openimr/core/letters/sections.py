"""Splitting a letter's text into header, how-made, clinical summary and issues sections."""

from __future__ import annotations

import re
from dataclasses import dataclass

from openimr.core.letters import layout


def _heading(text: str) -> re.Pattern[str]:
    words = r"\s+".join(re.escape(w) for w in text.split())
    return re.compile(words, re.IGNORECASE)


HOW = _heading(layout.HEADING_HOW)
SUMMARY = _heading(layout.HEADING_SUMMARY)
ISSUES = _heading(layout.HEADING_ISSUES)
DECISION_WORD = re.compile(r"\s*(?:Upheld|Overturned)\b")
# Page furniture that some letters print between pages: a line of its own. Other lines are found by
# their line break (a literal the regex engine scans for fast; a pattern anchored at ``^`` is tried
# at every character), the first line on its own.
_FURNITURE = r"[ \t]*(?:Page\s+\d+\s+of\s+\d+|-\s*\d+\s*-)[ \t]*$"
_FURNITURE_FIRST = re.compile(r"\A" + _FURNITURE, re.MULTILINE | re.IGNORECASE)
_FURNITURE_LINE = re.compile(r"\n" + _FURNITURE, re.MULTILINE | re.IGNORECASE)


def drop_furniture(text: str) -> str:
    """*text* with each page-furniture line emptied (its line break kept)."""
    return _FURNITURE_LINE.sub("\n", _FURNITURE_FIRST.sub("", text, count=1))


@dataclass(frozen=True, slots=True)
class Sections:
    """The four parts of a letter's text (line breaks kept)."""

    header: str
    how: str
    summary: str | None
    issues: str | None


def split_sections(text: str) -> Sections:
    """Cut *text* at the three headings; a heading that is missing leaves its section ``None``."""
    text = drop_furniture(text)
    how = HOW.search(text)
    summary = SUMMARY.search(text, how.end() if how else 0)
    issues = ISSUES.search(text, summary.end() if summary else (how.end() if how else 0))
    header_end = how.start() if how else (summary.start() if summary else 0)
    how_text = text[how.end() : summary.start() if summary else len(text)] if how else ""
    summary_text = text[summary.end() : issues.start() if issues else len(text)] if summary else None
    issues_text = text[issues.end() :] if issues else None
    return Sections(text[:header_end], how_text, summary_text, issues_text)


def drop_intro(section: str, limit: int = 400) -> str:
    """Remove a fixed introductory sentence that ends with ':' (not a decision line's colon)."""
    head = section[:limit]
    colon = head.find(":")
    if colon < 0 or DECISION_WORD.match(section, colon + 1):
        return section
    before = " ".join(head[:colon].split())
    if re.search(r"[.!?]\s", before):  # a full sentence precedes: the colon is not an intro's
        return section
    return section[colon + 1 :]
