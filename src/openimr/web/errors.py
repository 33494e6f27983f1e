"""Errors and how they answer: a status code, and JSON (the API) or a page (the rest).

OpenIMR's own errors (:class:`~openimr.core.errors.OpenIMRError` and its subclasses) carry their
status and error code; the web adds the errors of a request itself, and pydantic's, which
:func:`~openimr.core.validation.plain` puts in people's words for the API's answers and the
pages alike.
"""

from __future__ import annotations

from pydantic import ValidationError

from openimr.core.errors import OpenIMRError
from openimr.core.validation import Problem, plain
from openimr.services.access import Taken

__all__ = ["STATUS", "Problem", "Taken", "TooLarge", "Unauthenticated", "Unreadable", "classify", "plain"]


class Unauthenticated(OpenIMRError):
    """No valid token or session."""

    status, code = 401, "unauthenticated"


class TooLarge(OpenIMRError):
    """An upload over the size limit."""

    status, code = 413, "too_large"


class Unreadable(OpenIMRError):
    """An uploaded file that cannot be read as what it should be."""

    status, code = 422, "unreadable"


# The exception classes the app answers itself (each handled with its subclasses).
STATUS: tuple[type[BaseException], ...] = (OpenIMRError, ValidationError)


def classify(exc: BaseException) -> tuple[int, str]:
    """(status, code) of OpenIMR's own error (what its class carries) or pydantic's (422)."""
    if isinstance(exc, OpenIMRError):
        return exc.status, exc.code
    return 422, "invalid"
