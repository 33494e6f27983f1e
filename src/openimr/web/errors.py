"""Errors and how they answer: a status code, and JSON (the API) or a page (the rest)."""

from __future__ import annotations

from pydantic import ValidationError

from openimr.core.errors import ImmutableError
from openimr.core.process.workflow import TransitionError
from openimr.services.cases import ConflictError, Forbidden, NotFound, ProcessError, Unavailable


class Unauthenticated(Exception):
    """No valid token or session."""


class Taken(Exception):
    """A name that must be unique is in use."""


class TooLarge(Exception):
    """An upload over the size limit."""


class Unreadable(Exception):
    """An uploaded file that cannot be read as what it should be."""


# The first class in an exception's MRO found here gives its status and error code.
STATUS: dict[type[BaseException], tuple[int, str]] = {
    Unauthenticated: (401, "unauthenticated"),
    Forbidden: (403, "forbidden"),
    NotFound: (404, "not_found"),
    ConflictError: (409, "conflict"),
    TransitionError: (409, "invalid_transition"),
    ImmutableError: (409, "immutable"),
    Taken: (409, "conflict"),
    TooLarge: (413, "too_large"),
    Unreadable: (422, "unreadable"),
    ValidationError: (422, "invalid"),
    Unavailable: (503, "unavailable"),
    ProcessError: (422, "invalid"),
}


def classify(exc: BaseException) -> tuple[int, str]:
    """(status, code) for an exception of a class in :data:`STATUS` (or a subclass)."""
    return next(STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS)
