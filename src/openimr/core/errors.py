"""The error every file-reading step raises: it names the file and the problem on one line."""

from __future__ import annotations


class FileProblem(Exception):
    """A file that cannot be read completely; ``str()`` is ``FILE: problem``."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(file, problem)
        self.file = file
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


class ImmutableError(RuntimeError):
    """An attempt to change an issued letter or the audit log."""
