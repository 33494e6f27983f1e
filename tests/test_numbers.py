"""Numbers written in digits or words."""

from __future__ import annotations

import pytest

from openimr.core.numbers import to_int


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
