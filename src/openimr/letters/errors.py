"""The one error a letter can raise: it names the file and the problem."""

from __future__ import annotations

from openimr.errors import FileProblem


class LetterError(FileProblem):
    """A letter that cannot be read completely; ``str()`` is a one-line message."""
