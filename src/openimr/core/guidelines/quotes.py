"""Guideline statements quoted verbatim in published decisions, grouped by encoded rule.

Reviewers paste the guideline's own sentences into their rationales ("9-10 visits over 8 weeks",
"1 to 3 times per week", "120 mg oral morphine equivalents"). A statement with a numeric MTUS
criterion that appears word for word in the rationales of at least ``min_decisions`` different
decisions is evidence of what the guideline says; :func:`mine_quotes` finds such statements and
assigns each to the rules whose citation, family or keywords the statement and its rationales
name. Pure: give it ``(case_number, rationale)`` pairs from any store.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from openimr.core.guidelines.rules import Rule, load_rules

_NUMBER = r"(?:\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|twelve)"
_RANGE = rf"{_NUMBER}(?:\s*(?:-|to|or)\s*{_NUMBER})?"
_UNIT = (
    r"(?:%|percent|visits?|sessions?|treatments?|weeks?|months?|days?|hours?|levels?|injections?"
    r"|times?\s+(?:per|a|each)\s+week|(?:x|times)\s*/\s*week|mg|milligrams?)"
)
# A numeric criterion: a figure with its unit, or a morphine-equivalent threshold.
_CRITERION = re.compile(
    rf"\b{_RANGE}\s*{_UNIT}(?![a-z])|morphine[- ]equivalent|\bMED\b|\bMME\b", re.IGNORECASE
)
# Words that mark the reviewer's own account of the case rather than the guideline's text.
_CASE_WORDS = re.compile(
    r"\b(?:request(?:ed|s)?|patient'?s?|claimant|employee|injured worker|this case|medically necessary"
    r"|documentation|documented|records?|provider|physician|treating|utilization review|UR|had"
    r"|has been|was|were|completed|previous(?:ly)?|prior sessions|modified|certified|denied"
    r"|overturned|upheld|note[sd]?|report(?:ed|s)?|he|she|his|her)\b",
    re.IGNORECASE,
)
# "According to the MTUS, ..." / "CA MTUS guidelines state that ...": the attribution, not the quote.
_ATTRIBUTION = re.compile(
    r"^.{0,120}?\b(?:guidelines?|MTUS|ACOEM|ODG)\b.{0,60}?\b(?:states?|recommends?|indicates?|notes?"
    r"|supports?|allows?|specif(?:y|ies)|advises?|suggests?|says)\b\s*(?:that\s+)?[,:]?\s*",
    re.IGNORECASE,
)
# The figure phrase itself: "9-10 visits over 8 weeks", "1 to 3 times per week", "3 to 6 treatments".
_PHRASE = re.compile(
    rf"\b{_RANGE}[- ]{_UNIT}"
    rf"(?:\s+(?:over|for|per|within|in|of)\s+(?:up to\s+)?{_RANGE}[- ]{_UNIT})*(?![a-z])",
    re.IGNORECASE,
)
# A bare figure phrase counts only from a sentence that attributes or recommends it.
_CUE = re.compile(
    r"\b(?:guidelines?|MTUS|ACOEM|ODG|recommend\w*|warrant\w*|allow\w*|support\w*|advis\w*|indicated)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[\"(A-Z0-9])")
_QUOTED = re.compile(r"\"([^\"]{12,400})\"")
_WS = re.compile(r"\s+")
_TRANSLATE = str.maketrans(
    {"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u2013": "-", "\u2014": "-"}
)

# Words a category stands for in rationales (besides its own name).
_CATEGORY_TERMS = {
    "physical_therapy": ("physical therapy", "physical medicine", "physiotherapy"),
    "occupational_therapy": ("occupational therapy", "physical medicine"),
    "chiropractic": ("chiropractic", "manipulation", "manual therapy"),
    "acupuncture": ("acupuncture",),
    "massage": ("massage",),
    "psychological": ("psychotherapy", "cognitive behavioral", "behavioral interventions"),
}
MIN_WORDS = 4
CONTEXT_CHARS = 250
# Which limit kinds a figure's unit can state.
_UNIT_KINDS = (
    (re.compile(r"visits?|sessions?|treatments?", re.I), ("visits",)),
    (re.compile(r"times?\s+(?:per|a|each)\s+week|/\s*week", re.I), ("per_week",)),
    (re.compile(r"weeks?", re.I), ("weeks",)),
    (re.compile(r"months?", re.I), ("months",)),
    (re.compile(r"days?", re.I), ("days",)),
    (re.compile(r"%|percent", re.I), ("percent",)),
    (re.compile(r"hours?", re.I), ("per_week",)),
    (re.compile(r"levels?", re.I), ("levels",)),
    (re.compile(r"injections?", re.I), ("session",)),
)


@dataclass(frozen=True)
class GuidelineQuote:
    """A statement found verbatim in the rationales of ``case_numbers`` (sorted, distinct)."""

    text: str
    case_numbers: tuple[str, ...]


@dataclass(frozen=True)
class QuoteReport:
    """Quotes per rule id (best-matching rules), and quotes no rule's terms match."""

    by_rule: dict[str, tuple[GuidelineQuote, ...]]
    unmatched: tuple[GuidelineQuote, ...]


def normalize(text: str) -> str:
    """Text as compared for "verbatim": typographic quotes and dashes plain, whitespace single."""
    return _WS.sub(" ", text.translate(_TRANSLATE)).strip()


def _trim(fragment: str) -> str:
    return fragment.strip(" \"'([{").rstrip(" \"')]},;:")


def candidate_statements(rationale: str) -> list[str]:
    """Sentences, quoted spans and figure phrases of *rationale* stating a numeric guideline criterion.

    Sentences about the case (the request, the patient, the records) are left out, and a bare
    figure phrase ("9-10 visits over 8 weeks") is taken only from a sentence citing a guideline or
    recommending it.
    """
    text = normalize(rationale)
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        pieces.append(sentence)
        pieces.append(_ATTRIBUTION.sub("", sentence, count=1))
        if _CUE.search(sentence):
            pieces.extend(m.group(0) for m in _PHRASE.finditer(sentence) if len(m.group(0).split()) >= 3)
    pieces.extend(m.group(1) for m in _QUOTED.finditer(text))
    found: list[str] = []
    for piece in pieces:
        piece = _trim(piece)
        if (
            len(piece.split()) >= (3 if _PHRASE.fullmatch(piece) else MIN_WORDS)
            and _CRITERION.search(piece)
            and not _CASE_WORDS.search(piece)
            and piece not in found
        ):
            found.append(piece)
    return found


def _rule_terms(rule: Rule, class_members: dict[str, tuple[str, ...]]) -> set[str]:
    scope = rule.applies_to
    terms = set(scope.keywords) | set(scope.diagnoses)
    for category in scope.categories:
        terms.update(_CATEGORY_TERMS.get(category, (category.replace("_", " "),)))
    for name in scope.drug_classes:
        terms.update(class_members.get(name, ()))
        terms.add(name.replace("_", " "))
    for part in re.split(r"[;,()]", rule.citation.section):
        part = part.strip().lower()
        if len(part) > 3 and not part[0].isdigit():
            terms.add(part)
    return {t for t in terms if len(t) > 2}


def _mentions(text: str, term: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", text) is not None


def _fits_units(rule: Rule, text: str) -> bool:
    """Whether one of the rule's limits is of a kind the quote's figures can state."""
    suffixes = {sfx for pattern, found in _UNIT_KINDS if pattern.search(text) for sfx in found}
    return any(lim.kind.value.endswith(sfx) for lim in rule.limits for sfx in suffixes)


def _assign(
    quote: GuidelineQuote, contexts: Sequence[str], rules: Sequence[Rule], terms: dict[str, set[str]]
) -> list[str]:
    """Ids of the rules that best fit the quote.

    A rule's terms in the quote count three each; its terms in the quote's surroundings (the text
    around each occurrence) one each, averaged over occurrences; a limit of a kind the figure can
    state, two.
    """
    said = quote.text.lower()
    scores: dict[str, float] = {}
    for rule in rules:
        own = sum(_mentions(said, t) for t in terms[rule.id])
        around = sum(sum(_mentions(c, t) for t in terms[rule.id]) for c in contexts) / len(contexts)
        if own or around:
            scores[rule.id] = 3 * own + around + 2 * _fits_units(rule, said)
    if not scores:
        return []
    best = max(scores.values())
    return [rid for rid, score in scores.items() if score == best]


def mine_quotes(
    rationales: Iterable[tuple[str, str]],
    rules: Sequence[Rule] | None = None,
    min_decisions: int = 2,
) -> QuoteReport:
    """Guideline statements found verbatim in at least *min_decisions* decisions, by rule.

    *rationales* are ``(case_number, rationale text)`` pairs (several per case are fine). A
    statement counts once per case. When one counted statement contains another found in the same
    cases, only the longer is kept.
    """
    rules = list(load_rules().rules if rules is None else rules)
    members = {name: spec.members for name, spec in load_rules().drug_classes.items()}
    terms = {rule.id: _rule_terms(rule, members) for rule in rules}
    pairs = [(case, normalize(text)) for case, text in rationales if text]
    candidates: dict[str, str] = {}
    for _, text in pairs:
        for statement in candidate_statements(text):
            candidates.setdefault(statement.lower(), statement)
    texts = [(case, text.lower()) for case, text in pairs]
    counted: dict[str, tuple[tuple[str, ...], list[str]]] = {}
    for key in candidates:
        cases: dict[str, str] = {}
        for case, text in texts:
            at = text.find(key)
            if at >= 0:
                cases.setdefault(case, text[max(0, at - CONTEXT_CHARS) : at + len(key) + CONTEXT_CHARS])
        if len(cases) >= min_decisions:
            counted[key] = (tuple(sorted(cases)), list(cases.values()))
    kept = [
        key
        for key, (cases, _) in counted.items()
        if not any(key != other and key in other and counted[other][0] == cases for other in counted)
    ]
    by_rule: dict[str, list[GuidelineQuote]] = defaultdict(list)
    unmatched: list[GuidelineQuote] = []
    for key in sorted(kept, key=lambda k: (-len(counted[k][0]), k)):
        cases, contexts = counted[key]
        quote = GuidelineQuote(candidates[key], cases)
        matched = _assign(quote, contexts, rules, terms)
        for rule_id in matched:
            by_rule[rule_id].append(quote)
        if not matched:
            unmatched.append(quote)
    return QuoteReport({rid: tuple(qs) for rid, qs in by_rule.items()}, tuple(unmatched))
