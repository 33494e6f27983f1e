"""Body parts (canonical names, in text order), their regions, and laterality.

A side word applies to the next part named shortly after it ("Right L5-S1", "left lower extremity");
a sided part passes its side on along a list ("left shoulder, wrist and hip"); a part "of the right
hand" takes the hand's side. Laterality is bilateral when stated (or the same part is named on both
sides), the common side when every part has one, and null otherwise.
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

from openimr.core.requests.regexes import trie
from openimr.core.requests.resources import data

_SIDE_REACH = 25  # characters between a side word and the part it qualifies
_LIST_GAP = re.compile(r"^(?:\s*(?:,|/|&|\band\b|\bor\b)?\s*)$", re.A)
_OF_GAP = re.compile(r"^\s*(?:of|on|in)\b", re.A)
_SIDE_JOIN = re.compile(r"^\s*(?:and|/|&|,|or)\s*$", re.A)


class Anatomy(NamedTuple):
    """Parts in text order without duplicates, the region of each, and the laterality."""

    parts: list[str]
    regions: list[str]
    laterality: str | None


class _Lexicon(NamedTuple):
    pattern: re.Pattern[str]
    words: dict[str, tuple[str, ...]]  # word -> canonical parts (empty: not a part)
    sided: dict[str, tuple[str, str]]  # abbreviation -> (part, side)
    sides: dict[str, str]  # side word -> left/right/bilateral
    levels: dict[str, str]
    region: dict[str, str]
    lateral: frozenset[str]
    spine_regions: frozenset[str]
    strong_bilateral: frozenset[str]


class _Part(NamedTuple):
    name: str
    start: int
    end: int
    side: str | None


@cache
def _lexicon() -> _Lexicon:
    d = data("anatomy")
    words: dict[str, tuple[str, ...]] = {}
    for name, spec in d["parts"].items():
        for w in [name, *spec["words"]]:
            words[w] = (name,)
    for w, names in d["multi"].items():
        words[w] = tuple(names)
    for w in d["not_parts"]:
        words[w] = ()
    sided = {w: (p, s) for w, (p, s) in d["sided"].items()}
    sides = {w: side for side, ws in d["sides"].items() for w in ws}
    alts, side_alts = trie([*words, *sided]), trie(list(sides))
    pattern = re.compile(
        rf"(?<![\w/-])(?P<side>{side_alts})(?![\w/-])"
        r"|\b(?P<level>[ctls])\d{1,2}(?:\s*[-/]\s*[ctls]?\d{1,2})?\b"
        rf"|\b(?P<part>{alts})\b",
        re.A,
    )
    return _Lexicon(
        pattern=pattern,
        words=words,
        sided=sided,
        sides=sides,
        levels=dict(d["levels"]),
        region={name: spec["region"] for name, spec in d["parts"].items()},
        lateral=frozenset(name for name, spec in d["parts"].items() if spec["lateral"]),
        spine_regions=frozenset(d["spine_regions"]),
        strong_bilateral=frozenset(w for w in d["sides"]["bilateral"] if w != "both"),
    )


def _scan(low: str, lex: _Lexicon) -> tuple[list[_Part], set[str], bool]:
    """Parts with their direct sides, every side named, and whether 'bilateral' is stated."""
    parts: list[_Part] = []
    named: set[str] = set()
    stated_bilateral = False
    pending: tuple[str, int] | None = None  # side word not yet given to a part, and where it ended
    for m in lex.pattern.finditer(low):
        if word := m["side"]:
            side = lex.sides[word]
            named.add(side)
            stated_bilateral |= word in lex.strong_bilateral
            if pending and pending[0] != side and _SIDE_JOIN.match(low[pending[1] : m.start()]):
                side = "bilateral"  # "right and left knee"
            pending = (side, m.end())
            continue
        if level := m["level"]:
            names: tuple[str, ...] = (lex.levels[level],)
            own = None
        else:
            word = m["part"]
            if word in lex.sided:
                name, own = lex.sided[word]
                names = (name,)
                named.add(own)
                stated_bilateral |= own == "bilateral"
            else:
                names, own = lex.words[word], None
            if not names:
                continue
        if own is None and pending and m.start() - pending[1] <= _SIDE_REACH:
            own = pending[0]
        pending = None
        parts.extend(_Part(n, m.start(), m.end(), own) for n in names)
    return parts, named, stated_bilateral


def _spread(parts: list[_Part], low: str, lateral: frozenset[str]) -> list[_Part]:
    """Give unsided lateral parts the side of their list neighbour or of the part they belong to."""
    out = list(parts)
    for i in range(1, len(out)):
        p, prev = out[i], out[i - 1]
        listed = prev.end == p.start or _LIST_GAP.match(low[prev.end : p.start])
        if p.side is None and p.name in lateral and prev.side and prev.name in lateral and listed:
            out[i] = p._replace(side=prev.side)
    for i in range(len(out) - 2, -1, -1):
        p, nxt = out[i], out[i + 1]
        if p.side is None and p.name in lateral and nxt.side and _OF_GAP.match(low[p.end : nxt.start]):
            out[i] = p._replace(side=nxt.side)
    return out


def _laterality(parts: list[_Part], named: set[str], stated_bilateral: bool) -> str | None:
    if stated_bilateral:
        return "bilateral"
    if not parts:
        return next(iter(named)) if len(named) == 1 else None
    sides = {p.side for p in parts}
    if None in sides:
        return None
    if len(sides) == 1:
        return sides.pop()
    by_part: dict[str, set[str | None]] = {}
    for p in parts:
        by_part.setdefault(p.name, set()).add(p.side)
    if any({"left", "right"} <= s for s in by_part.values()):
        return "bilateral"
    return None


def read(low: str) -> Anatomy:
    """The body parts, regions and laterality of the lower-cased item."""
    lex = _lexicon()
    parts, named, stated_bilateral = _scan(low, lex)
    parts = _spread(parts, low, lex.lateral)
    names = list(dict.fromkeys(p.name for p in parts))
    if lex.spine_regions.intersection(names) and "spine" in names:
        names.remove("spine")
        parts = [p for p in parts if p.name != "spine"]
    laterality = _laterality(parts, named, stated_bilateral)
    return Anatomy(names, [lex.region[n] for n in names], laterality)
