"""The process's rule files (``process/data/*.yaml``), loaded once."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def load(name: str) -> dict[str, Any]:
    """The parsed ``process/data/<name>.yaml``."""
    text = resources.files("openimr.core.process").joinpath("data", f"{name}.yaml").read_text("utf-8")
    return yaml.safe_load(text)
