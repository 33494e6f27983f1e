"""OpenIMR: California workers' compensation Independent Medical Review, end to end."""

__version__ = "0.1.0"
