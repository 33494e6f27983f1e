"""OpenIMR: California workers' compensation Independent Medical Review, end to end."""

from __future__ import annotations

from functools import cache


@cache
def _version() -> str:
    from importlib.metadata import version

    return version("openimr")  # pyproject.toml is the one place the version is written


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed package's metadata on first use (not at import)."""
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'openimr' has no attribute {name!r}")
