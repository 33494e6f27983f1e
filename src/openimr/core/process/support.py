"""The seam to request parsing: the structured request of a disputed item, where the parser is installed."""

from __future__ import annotations

from typing import Any


def parse_request(item: str) -> dict[str, Any] | None:
    """The structured request (request.schema.json) for *item*, where the parser is installed."""
    try:
        from openimr.core.requests import parse
    except ImportError:
        return None
    return parse(item).model_dump(mode="json")
