"""The process's rule files (``process/data/*.yaml``), loaded once."""

from __future__ import annotations

from functools import cache
from typing import Any

from openimr.core.yamlfile import package_yaml


@cache
def load(name: str) -> dict[str, Any]:
    """The parsed ``process/data/<name>.yaml``."""
    return package_yaml("openimr.core.process", f"data/{name}.yaml")
