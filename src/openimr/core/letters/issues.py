"""The IMR ISSUES section: each disputed item, its decision, both guideline lines and rationale.

Each issue reads ``<item>: Upheld|Overturned``, then ``Claims Administrator guideline:``,
``<organization> guideline:`` and ``Decision rationale:``. The item line may wrap and the
decision may sit on the next line; the item starts on the line after the previous
rationale's last sentence. Partial authorizations put the item in a paragraph (see layout).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from openimr.core.letters import layout
from openimr.core.letters.header import collapse
from openimr.core.models import Issue

_WORDS = r"\s+"
CA_LABEL = re.compile(r"Claims\s+Administrator\s+guideline\s*:", re.I)
RATIONALE_LABEL = re.compile(r"Decision\s+rationale\s*:", re.I)
# The organization's label ("<name> guideline:") usually starts a line; its name is a setting,
# so besides the known names any run of capitalized words before "guideline:" is accepted.
_NAME_CHAIN = r"([A-Z][A-Za-z&'’-]*(?:[ \t]+[A-Z][A-Za-z&'’-]*){0,5})\s+guideline\s*:"
_ORG_LABEL_LINE = re.compile(r"(?:^|\n)[ \t]*" + _NAME_CHAIN)
_ORG_LABEL_ANY = re.compile(r"(?<!\S)" + _NAME_CHAIN)
DECISION = re.compile(
    r":\s*(Upheld|Overturned)\b(?=\s*(?:Claims\s+Administrator\s+guideline\s*:"
    r"|[^:]{0,60}?\s+guideline\s*:|Decision\s+rationale\s*:|$))",
    re.I,
)
# The end of a sentence at a line end: where a rationale may stop and the next item begin.
_LINE_END_SENTENCE = re.compile(r"[.!?][\"'”’)\]]*[ \t]*\n")
_ITEM_REACH = 2000
_INLINE_SENTENCE = re.compile(
    r"[.!?](?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)(?<!\bvs\.)(?<!\bNo\.)(?<!\be\.g\.)(?<!\bi\.e\.)"
    r"(?<!\bSt\.)[\"'”’)\]]*[ \t]+(?=[A-Z0-9\"'(])"
)
# A complete letter ends its last rationale with a sentence or a closing citation bracket.
_TEXT_END_SENTENCE = re.compile(r"(?:[.!?][\"'”’)\]]*|[)\]])\s*$")
# Text that stops on these cannot be a whole sentence: a letter cut off mid-sentence. Anything else
# without a final period may be a complete letter that left it out (a warning, never a refusal).
_HANGING_END = re.compile(r"(?:[,;:(\[/-]|(?<![\w-])(?:a|an|the|and|or|nor|of|not))\s*$", re.I)
_HANGING_REACH = 3  # the longest hanging word: a match starts this far before the text's last non-space


def _hangs(text: str) -> bool:
    """Whether *text* stops on a hanging word or mark (:data:`_HANGING_END`), searched from where a match
    can start: scanning the whole rationale cost more than the rest of the issues section."""
    return bool(_HANGING_END.search(text, max(0, len(text.rstrip()) - _HANGING_REACH)))


def _phrase(text: str) -> str:
    return _WORDS.join(re.escape(w) for w in text.split())


_PARTIAL_MARKERS = re.compile(
    "|".join(
        _phrase(s)
        for s in (
            layout.AUTHORIZED_TAIL,
            layout.REMAINING_LEAD,
            layout.LEAVING_TAIL.lstrip(", "),
            layout.ORIGINAL_LEAD,
        )
    ),
    re.I,
)
_ORIGINAL_TAIL = re.compile(_phrase(layout.ORIGINAL_REQUEST_TAIL), re.I)
_PARTIAL_AUTHORIZED = re.compile(
    rf"^(?P<a>.+?)\s+{_phrase(layout.ORIGINAL_REQUEST_TAIL)}\s+(?P<b>.+?)\s+{_phrase(layout.AUTHORIZED_TAIL)}"
    rf"\s+{_phrase(layout.REMAINING_LEAD.rstrip(','))},?\s+(?P<c>.+?)(?:\s+is)?$",
    re.I | re.S,
)
_PARTIAL_LEAVING = re.compile(
    rf"^(?P<a>.+?)\s+{_phrase(layout.ORIGINAL_REQUEST_TAIL)}\s+{_phrase(layout.AUTHORIZED_LEAD)}\s+(?P<b>.+?)"
    rf",?\s+{_phrase(layout.LEAVING_TAIL.lstrip(', '))}\s+{_phrase(layout.ORIGINAL_LEAD.rstrip(','))},?"
    rf"\s+(?P<c>.+?)(?:\s+is)?$",
    re.I | re.S,
)


def ends_a_sentence(text: str) -> bool:
    """Whether *text* ends as a complete letter's last rationale does (a sentence or a citation)."""
    return bool(_TEXT_END_SENTENCE.search(text))


class IssuesError(ValueError):
    """The issues section cannot be read completely."""


@dataclass(slots=True)
class _Body:
    ca: str | None
    imro: str | None
    rationale_start: int  # where the rationale's text starts


@cache
def _known_org_label(organizations: tuple[str, ...]) -> re.Pattern[str]:
    names = "|".join(re.escape(o) for o in organizations)
    return re.compile(rf"(?<!\S)({names})\s+guideline\s*:", re.I)


def _org_label(section: str, start: int, end: int, organizations: tuple[str, ...]) -> re.Match[str] | None:
    return (
        _known_org_label(organizations).search(section, start, end)
        or _ORG_LABEL_LINE.search(section, start, end)
        or (_ORG_LABEL_ANY.search(section, start, end))
    )


def _body(section: str, start: int, end: int, organizations: tuple[str, ...]) -> _Body:
    """The labelled fields between a decision (``start``) and the next decision (``end``)."""
    ca = CA_LABEL.search(section, start, end)
    pos = ca.end() if ca else start
    rat = RATIONALE_LABEL.search(section, pos, end)
    if rat is None:
        raise IssuesError("an issue has no 'Decision rationale:' (letter cut off?)")
    org = _org_label(section, pos, rat.start(), organizations)
    ca_text = section[ca.end() : org.start(1) if org else rat.start()] if ca else None
    imro_text = section[org.end() : rat.start()] if org else None
    return _Body(collapse(ca_text), collapse(imro_text), rat.end())


def _item_start(region: str, after_rationale: bool) -> int:
    """Offset in *region* where the item text begins (after the last sentence-ending line).

    Items start on a new line; where a rationale's end shares a line with the next item (text
    re-flowed by an extractor), a sentence end within the line counts too.
    """
    bounds = [0, *(m.end() for m in _LINE_END_SENTENCE.finditer(region))]
    if after_rationale:  # an item, even a partial-authorization paragraph, is far shorter than this
        tail = max(0, len(region) - _ITEM_REACH)
        bounds = sorted({*bounds, *(m.end() for m in _INLINE_SENTENCE.finditer(region, tail))})
    k = len(bounds) - 1
    # A partial-authorization paragraph holds sentences of its own: reach back to its start.
    while (
        k > 0 and _PARTIAL_MARKERS.search(region, bounds[k]) and not _ORIGINAL_TAIL.search(region, bounds[k])
    ):
        k -= 1
    return bounds[k]


def _issue(item_text: str, decision: str, body: _Body, rationale: str) -> Issue:
    text = collapse(item_text) or ""
    original = authorized = None
    if m := (_PARTIAL_AUTHORIZED.match(text) or _PARTIAL_LEAVING.match(text)):
        original, authorized, text = m["a"], m["b"], m["c"]
    if not text:
        raise IssuesError("an issue has an empty item/service line")
    return Issue(
        item=text,
        original_request=original,
        authorized=authorized,
        decision=decision.capitalize(),  # type: ignore[arg-type]
        claims_administrator_guideline=body.ca,
        imro_guideline=body.imro,
        rationale=collapse(rationale),
    )


def parse_issues(
    section: str,
    organizations: tuple[str, ...] = (layout.DEFAULT_ORGANIZATION, *layout.PUBLISHED_ORGANIZATIONS),
) -> list[Issue]:
    """All issues of the section, in order; ``IssuesError`` when none or when one is incomplete.

    *organizations* are the review organizations' names that label their guideline line.
    """
    decisions = list(DECISION.finditer(section))
    if not decisions:
        raise IssuesError("no decision line ('<item>: Upheld' or ': Overturned') in the issues section")
    ends = [m.start() for m in decisions[1:]] + [len(section)]
    bodies = [_body(section, m.end(), end, organizations) for m, end in zip(decisions, ends, strict=True)]
    items: list[str] = []
    rationales: list[str] = []
    start = 0
    for match, body in zip(decisions, bodies, strict=True):
        region = section[start : match.start()]
        cut = _item_start(region, bool(items))
        if items:
            rationales.append(region[:cut])
        items.append(region[cut:])
        start = body.rationale_start
    last = section[start:]
    if not last.strip() or _hangs(last):
        raise IssuesError("the last rationale ends mid-sentence (letter cut off?)")
    rationales.append(last)
    return [
        _issue(item, m[1], body, rationale)
        for item, m, body, rationale in zip(items, decisions, bodies, rationales, strict=True)
    ]
