"""``openimr letters render``: a letter record (letter.schema.json) as a Final Determination letter."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from openimr.cli.output import not_to_terminal, pipe_safe
from openimr.core.letters.layout import DEFAULT_ORGANIZATION
from openimr.services.options import ORGANIZATION_ENV, LetterFormat

if TYPE_CHECKING:
    from openimr.core.models import Letter


def _fail(path: Path, problem: str) -> NoReturn:
    typer.echo(f"error: {path}: {problem}", err=True)
    raise typer.Exit(1)


def _json_problem(exc: ValueError | RecursionError) -> str:
    """What is wrong with a file that is not JSON, in words."""
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    return "invalid JSON: nested too deeply" if isinstance(exc, RecursionError) else str(exc)


def read_record(path: Path) -> Letter:
    """The one letter record in *path*: a JSON object, or what ``letters parse`` writes of one
    letter (``--format json``: an array of one; ``jsonl``: one line); one error line and exit 1 for
    anything else, an array or lines of several records included."""
    from pydantic import ValidationError

    from openimr.core.models import Letter

    try:
        data = path.read_bytes()
    except OSError as exc:
        _fail(path, exc.strerror or str(exc))
    if not data.strip():
        _fail(path, "empty file: no letter record in it")
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:  # not JSON, or JSON Lines: one record a line
        try:
            value = [json.loads(line) for line in data.splitlines() if line.strip()]
        except (ValueError, RecursionError):
            _fail(path, f"not a letter record ({_json_problem(exc)})")
    if isinstance(value, list):
        if not value:
            _fail(path, "no letter record in it")
        if len(value) > 1:
            _fail(
                path,
                f"{len(value)} letter records; render takes one (parse one letter, or keep one"
                " record of the array or one line of --format jsonl in a file of its own)",
            )
        value = value[0]
    try:
        return Letter.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        _fail(path, f"not a letter record ({where + ': ' if where else ''}{first['msg']})")


@pipe_safe
def render_command(
    record: Annotated[
        Path,
        typer.Argument(
            help="A letter record in JSON (letter.schema.json), or what letters parse writes for one letter."
        ),
    ],
    fmt: Annotated[LetterFormat, typer.Option("--format", "-f", help="Output format.")] = "txt",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")
    ] = None,
    organization: Annotated[
        str, typer.Option(envvar=ORGANIZATION_ENV, help="The review organization's name.")
    ] = DEFAULT_ORGANIZATION,
) -> None:
    """Render a letter record as a Final Determination letter (txt, html or pdf).

    RECORD is one letter: a JSON object, or the output of ``letters parse`` for one letter (an array
    of one with --format json, a line with jsonl). A file of several letters is refused with one
    error line (exit status 1): render them one file each. A PDF is not written to a terminal: use
    -o FILE or redirect.
    """
    not_to_terminal(fmt, output)
    from openimr.services.render import render

    out = render(read_record(record), fmt, organization)
    data = out.encode() if isinstance(out, str) else out
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)


def register(app: typer.Typer) -> None:
    """Add ``render`` to the ``letters`` sub-app."""
    app.command("render")(render_command)
