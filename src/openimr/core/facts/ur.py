"""The utilization review's action on the request: denied, modified (to N visits) or approved."""

from __future__ import annotations

import re
from functools import cache

from openimr.core.facts.doc import Doc
from openimr.core.facts.models import Fact
from openimr.core.facts.rules import NUMBER, load, matcher
from openimr.core.numbers import to_int


@cache
def _counts() -> list[re.Pattern]:
    return [
        re.compile(p.replace("{N}", f"(?P<n>{NUMBER})").replace("{M}", f"(?:{NUMBER})"), re.IGNORECASE)
        for p in load("ur")["approved_count"]
    ]


def extract(doc: Doc) -> list[Fact]:
    """One fact per sentence that names the review and an action; ``number`` the visits a
    modification approved, when stated. The action's negation is part of its value."""
    text = doc.text
    facts: list[Fact] = []
    for s, e in doc.sentences:
        if not any(True for _ in matcher("ur", "review").finditer(text, s, e)):
            continue
        action = next(iter(matcher("ur", "action").finditer(text, s, e)), None)
        if action is None:
            continue
        value, m = action
        count = (
            next((c for p in _counts() if (c := p.search(text, s, e))), None) if value != "denied" else None
        )
        n = count["n"] if count else None
        start, end = (min(m.start(), count.start()), max(m.end(), count.end())) if count else m.span()
        facts.append(
            doc.fact(
                "ur_action",
                value,
                start,
                end,
                number=to_int(n) if n else None,
                unit="visits" if n else None,
            )
        )
    return facts
