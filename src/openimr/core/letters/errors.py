"""The one error a letter can raise: it names the file and the problem; the commands' exit status."""

from __future__ import annotations

from openimr.core.errors import FileProblem

NOTHING_TO_DO = 2  # the letter commands' exit status when their paths name no letter file


class LetterError(FileProblem):
    """A letter that cannot be read completely; ``str()`` is a one-line message."""
