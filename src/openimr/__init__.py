"""OpenIMR: California workers' compensation Independent Medical Review, end to end."""

from importlib.metadata import version

__version__ = version("openimr")  # pyproject.toml is the one place the version is written
