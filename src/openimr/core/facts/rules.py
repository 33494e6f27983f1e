"""Target and modifier rules as data: load the YAML files in ``targets/`` and compile them."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from openimr.core.numbers import WORDS
from openimr.core.yamlfile import package_yaml

NUMBER = rf"\d{{1,3}}|{WORDS}"


@cache
def load(name: str) -> dict[str, Any]:
    """The rule file ``targets/<name>.yaml``."""
    return package_yaml("openimr.core.facts", f"targets/{name}.yaml")


def bounded(pattern: str) -> str:
    """*pattern* matched on word boundaries, with any run of spaces in it matching any whitespace."""
    return any_of([pattern])


def any_of(patterns: list[str]) -> str:
    """One alternation over *patterns* on word boundaries (boundaries outside: checked once a position)."""
    return r"(?<![\w/-])(?:" + "|".join(p.replace(" ", r"\s+") for p in patterns) + r")(?![\w/])"


class Matcher:
    """Labelled patterns; ``finditer`` yields (label, match) left to right, the longest at each start."""

    def __init__(self, labelled: Mapping[str, list[str]], flags: int = re.IGNORECASE) -> None:
        pairs = [(label, p) for label, patterns in labelled.items() for p in patterns]
        self.labels = [label for label, _ in pairs]
        self.patterns = [re.compile(bounded(p), flags) for _, p in pairs]
        self.regex = re.compile(any_of([p for _, p in pairs]), flags)

    def finditer(self, text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[str, re.Match]]:
        end = len(text) if end is None else end
        pos = start
        while m := self.regex.search(text, pos, end):
            # The alternation finds the leftmost start; the longest pattern there wins.
            best = max(
                ((i, b) for i, p in enumerate(self.patterns) if (b := p.match(text, m.start(), end))),
                key=lambda ib: ib[1].end(),
            )
            yield self.labels[best[0]], best[1]
            pos = max(best[1].end(), m.start() + 1)


@cache
def matcher(name: str, *path: str) -> Matcher:
    """A Matcher over the concept -> patterns mapping at *path* in rule file *name*."""
    node: Any = load(name)
    for key in path:
        node = node[key]
    if isinstance(node, list):
        node = {path[-1] if path else name: node}
    return Matcher(node)
