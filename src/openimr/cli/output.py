"""What the commands' output shares: tables sized for a terminal or a pipe, progress only on a
terminal, binary files (a PDF, a PNG chart) never written to a terminal, and a quiet end when the
reader of a pipe goes away (``openimr cases audit X | head``).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

PIPED_WIDTH = 200
"""A table's width when stdout is not a terminal: wide and fixed, so rows are not squeezed."""
EXIT_PIPE_CLOSED = 141  # what a shell reports for a process ended by SIGPIPE (128 + 13)
EXIT_USAGE = 2
FILE_FORMATS = frozenset({"pdf", "png", "svg"})
"""Formats that are files to open, not text to read: a PDF's or a PNG's bytes garble a terminal."""

P = ParamSpec("P")
R = TypeVar("R")


def console() -> Console:
    """A console on stdout: the terminal's width there, :data:`PIPED_WIDTH` columns when piped."""
    out = Console()
    return out if out.is_terminal else Console(width=PIPED_WIDTH)


def not_to_terminal(fmt: str, output: Path | None) -> None:
    """Exit 2 with a hint, writing nothing, when *fmt* is a file format (:data:`FILE_FORMATS`) and
    would go to a terminal (no *output* file, stdout a terminal); to a pipe or a file it is written."""
    if fmt in FILE_FORMATS and output is None and sys.stdout.isatty():
        typer.echo(
            f"error: --format {fmt} writes a file, not text for the terminal: add -o FILE or redirect"
            f" (> FILE.{fmt})",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)


def pipe_safe(command: Callable[P, R]) -> Callable[P, R]:
    """*command*, ending quietly (exit status 141, nothing on stderr) if stdout's reader closes."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            try:
                return command(*args, **kwargs)
            finally:
                sys.stdout.flush()
        except BrokenPipeError:
            # Python flushes stdout again at exit: point it at nothing first.
            with suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(EXIT_PIPE_CLOSED) from None

    return run


@contextmanager
def status(message: str) -> Iterator[Any]:
    """A spinner with *message* on stderr while the block runs, only when stderr is a terminal."""
    err = Console(stderr=True)
    with err.status(message) if err.is_terminal else nullcontext() as shown:
        yield shown
