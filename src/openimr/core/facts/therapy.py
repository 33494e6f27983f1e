"""Prior sessions of a therapy and their count: "completed 12 sessions of physical therapy",
"has had 24 chiropractic visits", "acupuncture x 6"."""

from __future__ import annotations

import re
from functools import cache

from openimr.core.facts.doc import Doc
from openimr.core.facts.models import Fact
from openimr.core.facts.rules import NUMBER, load, matcher
from openimr.core.numbers import to_int


@cache
def _count_patterns() -> tuple[re.Pattern, ...]:
    """Counts before the therapy ("12 sessions of", "24" + "visits" after), or after it ("x 6",
    "(8 sessions)", "for a total of 12 visits")."""
    units = "(?:" + "|".join(load("therapy")["units"]) + ")"
    n = rf"(?P<n>{NUMBER})(?: \((?:{NUMBER})\))?"
    adj = (
        r"(?: (?:prior|previous|additional|completed|authorized|certified|initial|post-?operative"
        r"|more|total))?"
    )
    flags = re.IGNORECASE
    return (
        re.compile(
            rf"(?<![\w/.-]){n} of (?:the |their )?(?:{NUMBER}){adj}"
            rf"(?: {units}(?: of)?(?: [\w'-]+){{0,2}})? $",
            flags,
        ),
        re.compile(rf"(?<![\w/.-]){n}{adj} {units}(?: of)?(?: [\w'-]+){{0,2}} $", flags),
        re.compile(rf"(?<![\w/.-]){n}{adj} $", flags),
        re.compile(rf"^ {units}", flags),
        re.compile(rf"{units}$", flags),
        re.compile(
            rf"^(?: {units})?\s*(?:x|#|quantity:?)\s*{n}(?![\w/])(?! ?(?:weeks?|months?|days?))", flags
        ),
        re.compile(
            rf"^(?: {units})?,?\s*(?:\(|for |totaling |totalling |of |- ?|, )\s*"
            rf"(?:a total of |at least |approximately |about )?{n}\)? {units}",
            flags,
        ),
    )


_FREQ = re.compile(
    r"(?P<a>\d+)\s*(?:x|times)\s*(?:a |per |/)?\s*(?:week|wk)\s*(?:x|for|times)\s*(?P<b>\d+)\s*(?:weeks|wks)?"
    r"|(?P<c>\d+)\s*x\s*(?P<d>\d+)(?![\w/])",
    re.IGNORECASE,
)


def extract(doc: Doc) -> list[Fact]:
    """A prior_therapy fact per therapy mention; ``number`` the session count when one is stated.

    Requested or planned therapy comes out hypothetical, denied or absent therapy negated.
    """
    n_of_m, before, bare, unit_next, unit_end, after_x, after_n = _count_patterns()
    text = doc.text
    facts: list[Fact] = []
    for therapy, m in matcher("therapy", "therapy").finditer(text):
        s, e = doc.sentence(m.start())
        start, end, count = m.start(), m.end(), None
        head = text[max(s, m.start() - 60) : m.start()]
        tail = text[m.end() : min(e, m.end() + 40)]
        if (b := n_of_m.search(head) or before.search(head)) or (
            (b := bare.search(head)) and (unit_next.match(tail) or unit_end.search(m.group()))
        ):
            count, start = to_int(b["n"]), m.start() - len(head) + b.start()
            end = m.end() + (u.end() if (u := unit_next.match(tail)) and b.re is bare else 0)
        elif f := _FREQ.match(tail.lstrip(" ,(")):
            count = int(f["a"]) * int(f["b"]) if f["a"] else int(f["c"]) * int(f["d"])
            end = m.end() + (len(tail) - len(tail.lstrip(" ,("))) + f.end()
        elif a := after_x.match(tail) or after_n.match(tail):
            count, end = to_int(a["n"]), m.end() + a.end()
        facts.append(
            doc.fact(
                "prior_therapy",
                therapy,
                start,
                end,
                number=count,
                unit="sessions" if count is not None else None,
            )
        )
    return facts
