"""``openimr letters ...``: parse, ingest, stats and render Final Determination letters."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from openimr.cli.output import PIPED_WIDTH, pipe_safe
from openimr.cli.render import register as register_render
from openimr.cli.store import register as register_store
from openimr.core.letters.errors import NOTHING_TO_DO, LetterError
from openimr.core.letters.layout import DEFAULT_ORGANIZATION
from openimr.services.options import ORGANIZATION_ENV

if TYPE_CHECKING:
    from openimr.core.models import Letter

app = typer.Typer(help="Read and write IMR Final Determination letters.", no_args_is_help=True)


class ParseFormat(StrEnum):
    jsonl = "jsonl"
    json = "json"
    table = "table"


def _table(letters: list[Letter], out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("file", "case", "decided", "reviewer", "claimant", "items (decision)", show_lines=True)
    for letter in letters:
        items = "\n".join(f"{i.item} ({i.decision})" for i in letter.issues)
        who = f"{letter.claimant.age or '?'} {letter.claimant.sex or ''}".strip()
        table.add_row(
            letter.file,
            letter.case_number or "",
            str(letter.decision_date or ""),
            ", ".join(letter.reviewer.specialties),
            who,
            items,
        )
    Console(file=out, width=None if out.isatty() else PIPED_WIDTH).print(table)


@app.command("parse")
@pipe_safe
def parse_command(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Letter files (.pdf, .txt) or folders of them (not their sub-folders)."),
    ],
    fmt: Annotated[ParseFormat, typer.Option("--format", "-f", help="Output format.")] = ParseFormat.jsonl,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Parallel worker processes.")] = 1,
    organization: Annotated[
        str,
        typer.Option(envvar=ORGANIZATION_ENV, help="The review organization's name on its guideline line."),
    ] = DEFAULT_ORGANIZATION,
) -> None:
    """Parse letters into structured records (letter.schema.json), one per letter in input order.

    A file that cannot be read completely gets a one-line error on stderr ("error: FILE: why"),
    and so does a FIFO, device or other file that is not a regular file; the others are still
    parsed. A folder's entries that are not letter files (sub-folders, links to nothing, other
    suffixes) get a "skipped: FILE: why" line. A letter that parsed but may be incomplete gets a
    "warning: FILE: why" line and is still printed.

    A PDF is read by a separate process within bounds far past any letter (its pages, the
    characters of a page and of all, seconds and memory): a file past one (a compression bomb,
    thousands of pages) gets an error line naming the bound, and the others are still read.

    Exit status: 0 when every file parsed, 1 when some failed, 2 when there was no letter file.
    """
    from openimr.core.letters.extract import scan_paths
    from openimr.core.letters.parse import read_paths

    inputs = scan_paths(paths)
    for line in inputs.lines():
        typer.echo(line, err=True)
    if nothing := inputs.nothing_found(paths):
        typer.echo(nothing, err=True)
        raise typer.Exit(NOTHING_TO_DO)
    failed = len(inputs.errors)
    letters: list[Letter] = []
    with output.open("w", encoding="utf-8") if output else nullcontext(sys.stdout) as out:
        for path, result in read_paths(inputs.files, jobs, organization):
            if isinstance(result, LetterError):
                failed += 1
                typer.echo(f"error: {path}: {result.problem}", err=True)
                continue
            for warning in result.warnings:
                typer.echo(f"warning: {path}: {warning}", err=True)
            if fmt is ParseFormat.jsonl:
                out.write(json.dumps(result.letter.to_json_dict(), ensure_ascii=False) + "\n")
            else:
                letters.append(result.letter)
        if fmt is ParseFormat.json:
            json.dump([r.to_json_dict() for r in letters], out, ensure_ascii=False, indent=2)
            out.write("\n")
        elif fmt is ParseFormat.table:
            _table(letters, out)
    if failed:
        raise typer.Exit(1)


register_render(app)
register_store(app)
