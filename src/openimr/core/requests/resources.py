"""Loading the rule and dictionary files in ``data/`` (once per process)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def data(name: str) -> dict[str, Any]:
    """The parsed ``data/<name>.yaml`` file."""
    text = (
        files("openimr.core.requests").joinpath("data").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    )
    return yaml.load(text, Loader=_Loader)


@cache
def number_words() -> dict[str, int]:
    """Number words ("two", "twice", "twelve") and their values."""
    return {str(k): int(v) for k, v in data("lexicon")["numbers"].items()}


def to_number(token: str) -> float | None:
    """The value of a digit string or number word; ``None`` when it is neither."""
    token = token.strip().lower()
    value = number_words().get(token)
    if value is not None:
        return value
    try:
        return float(token)
    except ValueError:
        return None


def tidy(value: float | None) -> int | float | None:
    """*value* as an int when it is whole."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value
