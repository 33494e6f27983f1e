"""Loading the rule and dictionary files in ``data/`` (once per process)."""

from __future__ import annotations

from functools import cache
from typing import Any

from openimr.core.numbers import to_int
from openimr.core.yamlfile import package_yaml


@cache
def data(name: str) -> dict[str, Any]:
    """The parsed ``data/<name>.yaml`` file."""
    return package_yaml("openimr.core.requests", f"data/{name}.yaml")


@cache
def times_words() -> dict[str, int]:
    """Words for how many times ("once", "twice", "single") and their values."""
    return {str(k): int(v) for k, v in data("lexicon")["times"].items()}


def to_number(token: str) -> float | None:
    """The value of a digit string, a number word (:mod:`openimr.core.numbers`) or a times word
    ("twice"); ``None`` when it is none of them."""
    token = token.strip().lower()
    if (value := times_words().get(token)) is not None:
        return value
    try:
        return to_int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        return None


def tidy(value: float | None) -> int | float | None:
    """*value* as an int when it is whole."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value
