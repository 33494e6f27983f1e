"""``openimr letters render``: a letter record (letter.schema.json) as a Final Determination letter."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from openimr.cli.output import pipe_safe
from openimr.core.letters.layout import DEFAULT_ORGANIZATION
from openimr.services.options import ORGANIZATION_ENV, LetterFormat


def _fail(path: Path, problem: str) -> NoReturn:
    typer.echo(f"error: {path}: {problem}", err=True)
    raise typer.Exit(1)


@pipe_safe
def render_command(
    record: Annotated[Path, typer.Argument(help="A letter record in JSON (letter.schema.json).")],
    fmt: Annotated[LetterFormat, typer.Option("--format", "-f", help="Output format.")] = "txt",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")
    ] = None,
    organization: Annotated[
        str, typer.Option(envvar=ORGANIZATION_ENV, help="The review organization's name.")
    ] = DEFAULT_ORGANIZATION,
) -> None:
    """Render a letter record as a Final Determination letter (txt, html or pdf)."""
    from pydantic import ValidationError

    from openimr.core.models import Letter
    from openimr.services.render import render

    try:
        letter = Letter.model_validate_json(record.read_bytes())
    except OSError as exc:
        _fail(record, exc.strerror or str(exc))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        _fail(record, f"not a letter record ({where + ': ' if where else ''}{first['msg']})")
    out = render(letter, fmt, organization)
    data = out.encode() if isinstance(out, str) else out
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)


def register(app: typer.Typer) -> None:
    """Add ``render`` to the ``letters`` sub-app."""
    app.command("render")(render_command)
