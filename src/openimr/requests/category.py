"""The category of an item: ordered rules from ``data/categories.yaml``.

Two rules are code: items under a "Labs:" heading are labelled by the test itself (EKG is a
diagnostic test, a chest X-ray imaging, anything else a lab), and the ``drug`` slot matches items that
name a drug from the dictionary or state a strength.
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

from openimr.requests.drug import mentions_drug
from openimr.requests.resources import data

_LABS_HEADING = re.compile(r"^\s*(?:labs?|laboratory(?: studies| tests)?)\b[^:]{0,30}:\s*", re.A)


class _Rule(NamedTuple):
    category: str
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None
    counts: str | None  # "required" / "forbidden" / None


def _alternation(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.A)


def _rule(spec: dict) -> _Rule:
    unless = spec.get("unless")
    return _Rule(spec["category"], _alternation(spec["patterns"]), _alternation(unless) if unless else None,
                 spec.get("counts"))


@cache
def _rules() -> tuple[tuple[_Rule, ...] | str, ...]:
    """Blocks in order: a tuple of rules (earliest match wins among them) or the slot name "drug"."""
    blocks: list[tuple[_Rule, ...] | str] = []
    for spec in data("categories")["rules"]:
        if isinstance(spec, str):
            blocks.append(spec)
        elif "earliest" in spec:
            blocks.append(tuple(_rule(s) for s in spec["earliest"]))
        else:
            blocks.append((_rule(spec),))
    return tuple(blocks)


@cache
def _by_category() -> dict[str, re.Pattern[str]]:
    merged: dict[str, list[str]] = {}
    for spec in data("categories")["rules"]:
        for s in spec.get("earliest", [spec]) if isinstance(spec, dict) else []:
            merged.setdefault(s["category"], []).extend(s["patterns"])
    return {k: _alternation(v) for k, v in merged.items()}


def _applies(rule: _Rule, text: str, has_counts: bool) -> re.Match[str] | None:
    if rule.counts == "required" and not has_counts or rule.counts == "forbidden" and has_counts:
        return None
    m = rule.pattern.search(text)
    if m and rule.unless and rule.unless.search(text):
        return None
    return m


def classify(core: str, has_counts: bool) -> str:
    """The category of *core* (lower-cased, framing removed); *has_counts*: visits or frequency stated."""
    if m := _LABS_HEADING.match(core):
        test = core[m.end() :]
        by = _by_category()
        for category in ("diagnostic_test", "imaging"):
            if by[category].search(test):
                return category
        return "lab"
    for block in _rules():
        if block == "drug":
            if mentions_drug(core):
                return "drug"
            continue
        best: tuple[int, str] | None = None
        for rule in block:
            if (m := _applies(rule, core, has_counts)) and (best is None or m.start() < best[0]):
                best = (m.start(), rule.category)
        if best:
            return best[1]
    return "other"
