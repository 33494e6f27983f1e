"""Regex helpers for speed: word lists as tries, rule patterns grouped by first character, and
literal gates in front of slow rules.

Python's regex engine tries every alternative at every position; grouping alternatives under their
first character (and ``\\b``) lets it reject most positions with one comparison. A rule whose every
match must contain one of a few literals (``eval``, ``consult``) is skipped unless one is in the text.
"""

from __future__ import annotations

import re
from re import _constants as c  # the parser's opcodes (Python 3.11+)
from re import _parser

_HEAD = re.compile(r"(\\b)?([a-z0-9 ])(?![?*+{])")
_GATE_MAX = 200  # literals per rule; beyond this a rule runs unconditionally


def trie(words: list[str]) -> str:
    """A regex matching any of *words*, built as a prefix tree (one branch per next character)."""
    root: dict = {}
    for w in words:
        node = root
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(root)


def _top_level_bar(pattern: str) -> bool:
    """Whether *pattern* has an alternation ``|`` outside any group (it cannot be split at its head)."""
    depth, escaped, in_class = 0, False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
    return False


def grouped(patterns: list[str]) -> str:
    """One regex for *patterns* with the alternatives grouped by ``\\b`` and their first character."""
    groups: dict[str, dict[str, list[str]]] = {}
    rest: list[str] = []
    for p in patterns:
        if (m := _HEAD.match(p)) and not _top_level_bar(p):
            groups.setdefault(m[1] or "", {}).setdefault(m[2], []).append(p[m.end() :])
        else:
            rest.append(p)
    parts = []
    for anchor, by_char in groups.items():
        alts = "|".join(
            re.escape(ch) + "(?:" + "|".join(f"(?:{r})" for r in tails) + ")" for ch, tails in by_char.items()
        )
        parts.append(f"{anchor}(?:{alts})")
    parts += [f"(?:{p})" for p in rest]
    return "|".join(parts)


def _required(items: list) -> set[str] | None:
    """Literals one of which any match of the parsed *items* contains; ``None`` when unknown."""
    options: list[set[str]] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) >= 2:
            options.append({"".join(run)})
        run.clear()

    for op, av in items:
        if op is c.LITERAL:
            run.append(chr(av))
            continue
        if op is c.AT:
            continue
        flush()
        found: set[str] | None = None
        if op is c.SUBPATTERN:
            found = _required(list(av[-1]))
        elif op is c.BRANCH:
            alts = [_required(list(a)) for a in av[1]]
            found = set().union(*alts) if alts and all(alts) else None
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1:
            found = _required(list(av[2]))
        if found:
            options.append(found)
    flush()
    return min(options, key=lambda o: (len(o), -min(map(len, o)))) if options else None


def gate(patterns: list[str]) -> tuple[str, ...] | None:
    """A few literals one of which a text must contain for any of *patterns* to match; ``None``: none."""
    out: set[str] = set()
    for p in patterns:
        try:
            need = _required(list(_parser.parse(p)))
        except (re.error, TypeError, ValueError, AttributeError):
            need = None
        if need is None:
            return None
        out |= need
        if len(out) > _GATE_MAX:
            return None
    return tuple(sorted(out, key=len, reverse=True))
