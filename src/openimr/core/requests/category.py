"""The category of an item: ordered rules from ``data/categories.yaml``.

Two rules are code: items under a "Labs:" heading are labelled by the test itself (EKG is a
diagnostic test, a chest X-ray imaging, anything else a lab), and the ``drug`` slot matches items that
name a drug from the dictionary or state a strength.

For speed, one pass of a prefix-tree regex over the item finds the literals the rules need
(``acupunct``, ``mri``); only the rules whose literals occur (and rules without literals) run.
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

from openimr.core.requests.drug import mentions_drug
from openimr.core.requests.regexes import gate, grouped, trie
from openimr.core.requests.resources import data

_LABS_HEADING = re.compile(r"^\s*(?:labs?|laboratory(?: studies| tests)?)\b[^:]{0,30}:\s*", re.A)


class _Rule(NamedTuple):
    ident: int
    category: str
    pattern: re.Pattern[str]
    gate: tuple[str, ...] | None  # literals one of which the text needs for a match (None: always try)
    unless: re.Pattern[str] | None
    counts: str | None  # "required" / "forbidden" / None


class _Rules(NamedTuple):
    blocks: tuple[tuple[_Rule, ...] | str, ...]  # rules (earliest match wins among them) or the slot "drug"
    literals: re.Pattern[str]  # finds, at every position, the longest gate literal starting there
    gated: dict[str, frozenset[int]]  # literal -> rules it (or a literal it starts with) lets run
    always: frozenset[int]  # rules without a gate


def _alternation(patterns: list[str]) -> re.Pattern[str]:
    return re.compile(grouped(patterns), re.A)


def _rule(ident: int, spec: dict) -> _Rule:
    unless = spec.get("unless")
    return _Rule(
        ident,
        spec["category"],
        _alternation(spec["patterns"]),
        gate(spec["patterns"]),
        _alternation(unless) if unless else None,
        spec.get("counts"),
    )


@cache
def _rules() -> _Rules:
    blocks: list[tuple[_Rule, ...] | str] = []
    specs = data("categories")["rules"]
    count = 0
    for spec in specs:
        if isinstance(spec, str):
            blocks.append(spec)
            continue
        members = spec.get("earliest", [spec])
        blocks.append(tuple(_rule(count + i, s) for i, s in enumerate(members)))
        count += len(members)
    rules = [r for b in blocks if not isinstance(b, str) for r in b]
    by_literal: dict[str, set[int]] = {}
    for r in rules:
        for lit in r.gate or ():
            by_literal.setdefault(lit, set()).add(r.ident)
    gated = {
        lit: frozenset().union(*(ids for other, ids in by_literal.items() if lit.startswith(other)))
        for lit in by_literal
    }
    return _Rules(
        blocks=tuple(blocks),
        literals=re.compile(f"(?=({trie(list(by_literal))}))", re.A),
        gated=gated,
        always=frozenset(r.ident for r in rules if r.gate is None),
    )


@cache
def _by_category() -> dict[str, re.Pattern[str]]:
    merged: dict[str, list[str]] = {}
    for spec in data("categories")["rules"]:
        for s in spec.get("earliest", [spec]) if isinstance(spec, dict) else []:
            merged.setdefault(s["category"], []).extend(s["patterns"])
    return {k: _alternation(v) for k, v in merged.items()}


def _applies(rule: _Rule, text: str, has_counts: bool) -> re.Match[str] | None:
    if rule.counts == ("forbidden" if has_counts else "required"):
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
    rules = _rules()
    runnable = set(rules.always)
    for lit in rules.literals.findall(core):
        runnable |= rules.gated[lit]
    for block in rules.blocks:
        if isinstance(block, str):
            if mentions_drug(core):
                return "drug"
            continue
        best: tuple[int, str] | None = None
        for rule in block:
            m = _applies(rule, core, has_counts) if rule.ident in runnable else None
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), rule.category)
        if best:
            return best[1]
    return "other"
