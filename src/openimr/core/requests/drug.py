"""Drugs: the product as written, its strength and quantity, generic ingredients and class.

The name is read left to right after framing words ("Retrospective", "Two refills of"): name words up
to a strength, dosage form, count or dosing word; further ingredients follow "/", "," or "and" when
the dictionary knows them or a strength follows. Parentheticals (aliases) are dropped.
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

from openimr.core.requests.model import Drug
from openimr.core.requests.resources import data, tidy

_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|\.\d+)"
_S1 = rf"{_NUM}(?:\s*[-/]\s*{_NUM})*\s*(?:mg|mcg|ug|%|percent|meq|iu|units?|mmol)(?![a-z])"
STRENGTH = rf"{_S1}(?:\s*[-/]\s*{_S1})*(?:\s*/\s*(?:{_NUM}\s*)?(?:ml|g|gm|hr|h|actuation|spray|dose|day)\b)?"
_STRENGTH = re.compile(STRENGTH, re.I | re.A)
_TOKENS = re.compile(
    rf"(?P<st>{STRENGTH})|(?P<q>#\s*\d)|(?P<num>\d[\d,.]*)|(?P<w>[a-z][a-z0-9'-]*\.?)|(?P<d>[/,+&;:])",
    re.I | re.A,
)
_QUANTITY = re.compile(
    r"#\s*(\d+(?:\.\d+)?)|\b(?:qty|quantity)\s*[:#]?\s*(?:of\s*)?(\d+(?:\.\d+)?)", re.I | re.A
)
_PARENS = re.compile(r"\([^)]*\)?|\[[^\]]*\]?")
_TOPICAL = re.compile(
    r"%|\b(?:cream|gel|ointment|lotion|patch(?:es)?|topical|transdermal|roll-on|liniment)\b|percent",
    re.I | re.A,
)
_WORD = re.compile(r"[a-z][a-z0-9'-]*", re.A)
TOPICAL_CLASS = "topical analgesic"


class _Dictionary(NamedTuple):
    products: dict[str, tuple[tuple[str, ...], str]]  # lower-case name -> (ingredients, class)
    words: frozenset[str]  # single words that name a drug (for spotting one in an item)
    salt: frozenset[str]
    framing: re.Pattern[str]
    forms: frozenset[str]
    halts: frozenset[str]


@cache
def _dictionary() -> _Dictionary:
    d, lex = data("drugs"), data("lexicon")
    products: dict[str, tuple[tuple[str, ...], str]] = {}
    for generic, spec in d["generics"].items():
        for name in [generic, *spec.get("brands", [])]:
            products[name] = ((generic,), spec["class"])
    for name, spec in d["products"].items():
        products[name] = (tuple(spec["ingredients"]), spec["class"])
    words = {n for n in products if " " not in n and "/" not in n}
    words |= {n.split()[0] for n in products if " " in n and len(n.split()[0]) >= 4}
    framing = re.compile(r"^(?:\s*(?:" + "|".join(lex["drug_framing"]) + r")\b\s*[:,-]?)+\s*", re.I | re.A)
    return _Dictionary(
        products=products,
        words=frozenset(words),
        salt=frozenset(d["salt_words"]),
        framing=framing,
        forms=frozenset(lex["drug_forms"]),
        halts=frozenset(lex["drug_halts"]),
    )


def mentions_drug(low: str) -> bool:
    """Whether the lower-cased item names a known drug or states a strength."""
    words = _dictionary().words
    return any(w in words for w in _WORD.findall(low)) or _STRENGTH.search(low) is not None


def _known(word: str) -> bool:
    return word.lower().strip(".") in _dictionary().words


def _ingredients(text: str) -> list[tuple[list[str], str | None]]:
    """(name words, strength) per ingredient, in written order."""
    dic = _dictionary()
    tokens = [(m.lastgroup, m.group()) for m in _TOKENS.finditer(text)]
    out: list[tuple[list[str], str | None]] = []
    words: list[str] = []
    strength: str | None = None
    name_done = joined = False
    for i, (kind, tok) in enumerate(tokens):
        if kind == "w":
            low = tok.lower().rstrip(".")
            if low == "and" and words:
                joined = True
                continue
            next_is_strength = i + 1 < len(tokens) and tokens[i + 1][0] == "st"
            if words and (joined or name_done):
                if not (_known(low) or (joined and next_is_strength and low not in dic.halts)):
                    if low in dic.forms and not joined:
                        continue
                    break
                out.append((words, strength))
                words, strength, name_done, joined = [], None, False, False
            if low in dic.forms:
                name_done = bool(words)
            elif low in dic.halts:
                break
            else:
                words.append(tok.rstrip(".") if tok.endswith(".") and len(tok) > 2 else tok)
        elif kind == "st":
            if not words:
                break
            if strength is None:
                strength = re.sub(r"\s+", "", tok)
            name_done, joined = True, False
        elif kind == "d":
            if tok in "/,+&" and words:
                joined = True
            elif words:
                break
        else:
            break
    if words:
        out.append((words, strength))
    return out


def _lookup(name: str) -> tuple[tuple[str, ...], str] | None:
    dic = _dictionary()
    low = name.lower()
    if hit := dic.products.get(low):
        return hit
    words = low.split()
    core = [w for w in words if w not in dic.salt]
    for key in (" ".join(core), " ".join(words[:2]), words[0] if words else ""):
        if hit := dic.products.get(key):
            return hit
    return None


def read(text: str) -> Drug | None:
    """The drug in *text* (the item as written); ``None`` when no name can be read."""
    body = _dictionary().framing.sub("", _PARENS.sub(" ", text), count=1)
    parts = _ingredients(body)
    if not parts:
        return None
    names = [" ".join(words) for words, _ in parts]
    strengths = [s for _, s in parts if s]
    name = "/".join(names)
    ingredients: list[str] = []
    classes: list[str] = []
    whole = _lookup(name)
    for hit in filter(None, [whole] if whole else map(_lookup, names)):
        ingredients.extend(i for i in hit[0] if i not in ingredients)
        classes.append(hit[1])
    drug_class = classes[0] if classes else None
    if drug_class and (_TOPICAL.search(body) or len(names) > 2):
        drug_class = TOPICAL_CLASS
    q = _QUANTITY.search(text)
    quantity = tidy(float(q[1] or q[2])) if q else None
    return Drug(
        name=name,
        strength="/".join(strengths) or None,
        quantity=quantity,
        ingredients=ingredients,
        drug_class=drug_class,
    )
