"""Loading the rule and dictionary files in ``data/`` (once per process)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from openimr.core.numbers import to_int

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def data(name: str) -> dict[str, Any]:
    """The parsed ``data/<name>.yaml`` file."""
    text = (
        files("openimr.core.requests").joinpath("data").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    )
    return yaml.load(text, Loader=_Loader)


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
