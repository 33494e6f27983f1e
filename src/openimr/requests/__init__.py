"""Disputed items parsed into structured requests: ``parse(text) -> Request``."""

from openimr.requests.model import Drug, Request
from openimr.requests.parse import parse

__all__ = ["Drug", "Request", "parse"]
