"""Disputed items parsed into structured requests: ``parse(text) -> Request``."""

from openimr.core.requests.model import Drug, Request
from openimr.core.requests.parse import parse

__all__ = ["Drug", "Request", "parse"]
