"""The one error a letter can raise: it names the file and the problem."""

from __future__ import annotations


class LetterError(Exception):
    """A letter that cannot be read completely; ``str()`` is a one-line message."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(file, problem)
        self.file = file
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"
