"""ConText (Harkema et al. 2009) over regex targets, with medspaCy's rule format as data.

medspaCy's own ConText was the first choice, but on Python 3.11 medspaCy 1.3 pins spaCy < 3.8,
hence thinc 8.2 and numpy < 2, which conflicts with pandas 3 (numpy >= 2) that the review engine
uses; its default sentence splitter (PyRuSH) alone also costs ~45 ms a summary against our 20 ms
budget. So this module implements the same algorithm: modifiers (negation, uncertainty, history,
hypothetical, other experiencer) with a direction and a scope bounded by the sentence, terminators
and ``max_scope`` words; pseudo-triggers block shorter triggers; a target in scope is modified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from openimr.core.facts.rules import any_of, bounded, load

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])|\n\s*\n")
_ABBREVIATIONS = re.compile(
    r"(?:\b(?:Dr|Mr|Mrs|Ms|vs|Jr|Sr|St|No|approx|e\.g|i\.e|etc|Inc|Co|Ltd|[A-Z])\.)$", re.IGNORECASE
)
_WORD = re.compile(r"\w+")

FLAGS = {
    "NEGATED_EXISTENCE": "negated",
    "POSSIBLE_EXISTENCE": "uncertain",
    "HISTORICAL": "historical",
    "HYPOTHETICAL": "hypothetical",
    "FAMILY": "family",
}


def sentences(text: str) -> list[tuple[int, int]]:
    """Sentence (start, end) offsets: split after . ! ? before a capital or digit, not after abbreviations."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if "\n\n" not in m.group() and _ABBREVIATIONS.search(text[max(start, m.start() - 8) : m.start()]):
            continue
        spans.append((start, m.start()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


@dataclass(frozen=True, slots=True)
class Modifier:
    """A matched trigger and the character range it modifies."""

    category: str
    start: int
    end: int
    scope_start: int
    scope_end: int
    text: str


@dataclass(frozen=True, slots=True)
class Rule:
    category: str
    direction: str
    max_scope: int


class ConText:
    """Compiled modifier rules; ``modifiers(text, sentence)`` finds triggers and their scopes."""

    def __init__(self, rules: list[dict], default_scope: int) -> None:
        self.rules = [Rule(r["category"], r["direction"], r.get("max_scope", default_scope)) for r in rules]
        self.patterns = [re.compile(bounded(r["literal"]), re.IGNORECASE) for r in rules]
        self.regex = re.compile(any_of([r["literal"] for r in rules]), re.IGNORECASE)

    def _triggers(self, text: str, start: int, end: int) -> list[tuple[Rule, re.Match]]:
        found: list[tuple[Rule, re.Match]] = []
        pos = start
        while m := self.regex.search(text, pos, end):
            i, best = max(
                ((i, b) for i, p in enumerate(self.patterns) if (b := p.match(text, m.start(), end))),
                key=lambda ib: ib[1].end(),
            )
            found.append((self.rules[i], best))
            pos = max(best.end(), m.start() + 1)
        return found

    def modifiers(self, text: str, start: int, end: int) -> list[Modifier]:
        """Modifiers in the sentence text[start:end], each with its scope."""
        triggers = self._triggers(text, start, end)
        stops = [m.start() for r, m in triggers if r.direction == "TERMINATE"]
        stop_ends = [m.end() for r, m in triggers if r.direction == "TERMINATE"]
        words = [(w.start(), w.end()) for w in _WORD.finditer(text, start, end)]
        out: list[Modifier] = []
        for rule, m in triggers:
            if rule.category not in FLAGS:
                continue
            lo, hi = m.start(), m.end()
            if rule.direction in ("FORWARD", "BIDIRECTIONAL"):
                after = [w for w in words if w[0] >= m.end()][: rule.max_scope]
                hi = min([after[-1][1] if after else m.end(), *(s for s in stops if s >= m.end())])
            if rule.direction in ("BACKWARD", "BIDIRECTIONAL"):
                before = [w for w in words if w[1] <= m.start()][-rule.max_scope :] if rule.max_scope else []
                lo = max([before[0][0] if before else m.start(), *(e for e in stop_ends if e <= m.start())])
            out.append(Modifier(rule.category, m.start(), m.end(), lo, hi, m.group()))
        return out


@cache
def context() -> ConText:
    """The ConText rules of ``targets/context.yaml``."""
    data = load("context")
    return ConText(data["rules"], data["defaults"]["max_scope"])
