"""Numbers as clinical text writes them: digits, or words up to ninety-nine ("twenty-four", "forty
two") and "a dozen". Every reader of numbers in words (letters, facts, requests) uses these."""

from __future__ import annotations

import re

ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_ONE_WORDS = "|".join(ONES[1:10])
# A number in words (lower case): a tens word with an optional unit ("forty-two"), one to nineteen
# (the longer first: "seventeen" before "seven"), or "a dozen".
WORDS = (
    rf"(?:(?:{'|'.join(TENS)})(?:[- ](?:{_ONE_WORDS}))?"
    rf"|{'|'.join(sorted(ONES[1:], key=len, reverse=True))}|a[- ]dozen)"
)


def to_int(word: str) -> int:
    """'12', 'twelve', 'twenty-four', 'forty two', 'a dozen' -> int (ValueError otherwise)."""
    w = re.sub(r"[\s-]+", "-", word.strip().lower())
    if w.isdigit():
        return int(w)
    if w == "a-dozen":
        return 12
    if w in ONES:
        return ONES.index(w)
    tens, _, unit = w.partition("-")
    if tens in TENS and (not unit or unit in ONES[1:10]):
        return TENS[tens] + (ONES.index(unit) if unit else 0)
    raise ValueError(f"not a number: {word!r}")
