"""Numbers written in digits or words, read alike by the letters, facts and requests readers."""

from __future__ import annotations

import re

import pytest

from openimr.core.facts import extract_facts
from openimr.core.letters.header import claimant
from openimr.core.numbers import WORDS, to_int
from openimr.core.requests import parse


@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12), ("twelve", 12), ("Twenty-Four", 24), ("forty two", 42), ("a dozen", 12), ("ninety", 90)],
)
def test_numbers_in_digits_and_words(text: str, value: int) -> None:
    assert to_int(text) == value


@pytest.mark.parametrize("text", ["", "dozens", "twenty-ten", "hundred"])
def test_other_words_are_not_numbers(text: str) -> None:
    with pytest.raises(ValueError, match="not a number"):
        to_int(text)


def test_words_cover_every_number_to_ninety_nine() -> None:
    pattern = re.compile(rf"{WORDS}$")
    for tens in ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"):
        for unit in ("", "-one", " five", "-nine"):
            assert pattern.match(tens + unit), tens + unit
            assert to_int(tens + unit) % 10 == {"": 0, "-one": 1, " five": 5, "-nine": 9}[unit]
    assert pattern.match("a dozen") and pattern.match("seventeen") and not pattern.match("twenty-ten")


def test_letters_read_a_claimant_age_in_words() -> None:
    assert claimant("The patient is a thirty-five year old female who was injured at work.").age == 35


@pytest.mark.parametrize(
    ("text", "days"),
    [("low back pain for thirty-five days", 35), ("neck pain for the past forty-eight months", 48 * 30)],
)
def test_facts_read_durations_in_words(text: str, days: int) -> None:
    (fact,) = extract_facts(f"She has had {text}.").of("symptom_duration")
    assert fact.number == days


def test_facts_read_prior_sessions_in_words() -> None:
    facts = extract_facts("She has completed thirty-five sessions of physical therapy.")
    assert facts.prior_session_count("physical_therapy") == 35


@pytest.mark.parametrize(
    ("item", "sessions", "weeks"),
    [
        ("Physical therapy thirty-five sessions", 35, None),
        ("Acupuncture twenty two visits", 22, None),
        ("Chiropractic a dozen sessions", 12, None),
        ("Aquatic therapy twice a week for fifty-two weeks", 104, 52),
    ],
)
def test_requests_read_counts_in_words(item: str, sessions: int, weeks: int | None) -> None:
    r = parse(item)
    assert (r.sessions, r.duration_weeks) == (sessions, weeks)
