"""Seams to modules that other parts of OpenIMR provide: request parsing and decision support.

Decision support plugs in through the ``openimr.decision_support`` entry point: a callable that
takes a case (case.schema.json), and optionally ``store=`` the database URL of past decisions,
and returns a review (review.schema.json). Until one is
installed, :func:`decision_support` returns None and the process runs on the reviewer's word.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

ENTRY_POINT_GROUP = "openimr.decision_support"

Review = Callable[..., dict[str, Any]]


def parse_request(item: str) -> dict[str, Any] | None:
    """The structured request (request.schema.json) for *item*, where the parser is installed."""
    try:
        from openimr.core.requests import parse
    except ImportError:
        return None
    return parse(item).model_dump(mode="json")


def decision_support() -> Review | None:
    """The installed decision-support callable, if any."""
    found = entry_points(group=ENTRY_POINT_GROUP)
    return next(iter(found)).load() if found else None
