"""OpenIMR's errors: the root every refusal derives from, and the one every file-reading step
raises (it names the file and the problem on one line)."""

from __future__ import annotations


class OpenIMRError(Exception):
    """An operation refused, for a reason its message gives. Each class carries how every adapter
    answers it: its HTTP *status* and error *code* (the web) and its *exit_code* (the command line).
    """

    status: int = 422
    code: str = "invalid"
    exit_code: int = 1


class FileProblem(Exception):
    """A file that cannot be read completely; ``str()`` is ``FILE: problem``."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(file, problem)
        self.file = file
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


class ImmutableError(OpenIMRError, RuntimeError):
    """An attempt to change an issued letter or the audit log."""

    status, code = 409, "immutable"
