"""``openimr requests parse``: disputed items' free text as structured requests."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from openimr.cli.output import console, pipe_safe

if TYPE_CHECKING:
    from openimr.core.requests.model import Request

app = typer.Typer(help="Parse disputed items into structured requests.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Parse disputed items into structured requests."""


class ParseFormat(StrEnum):
    jsonl = "jsonl"
    table = "table"


def _items(texts: list[str] | None, file: Path | None) -> list[str]:
    """The items to parse: the arguments, or the lines of *file* (one clear line if it cannot be read)."""
    if file is not None:
        try:
            raw = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            typer.echo(f"error: {file}: cannot read it ({exc.strerror or exc})", err=True)
            raise typer.Exit(1) from None
        return raw.splitlines()
    return list(texts or [])


def _table(items: list[str], requests: list[Request]) -> None:
    from rich.table import Table

    table = Table("item", "category", "drug", "visits", "body parts", "side", "flags", show_lines=True)
    for item, r in zip(items, requests, strict=True):
        drug = (
            " ".join(str(x) for x in (r.drug.name, r.drug.strength, r.drug.quantity) if x) if r.drug else ""
        )
        visits = "/".join(
            "" if v is None else str(v) for v in (r.sessions, r.frequency_per_week, r.duration_weeks)
        )
        flags = [f for f, on in (("retro", r.retrospective), ("post-op", r.postoperative)) if on]
        if r.date_of_service:
            flags.append(f"DOS {r.date_of_service}")
        table.add_row(
            item,
            r.category,
            drug,
            visits.strip("/"),
            ", ".join(r.body_parts),
            r.laterality or "",
            " ".join(flags),
        )
    console().print(table)


@app.command("parse")
@pipe_safe
def parse_command(
    texts: Annotated[list[str] | None, typer.Argument(help="Items to parse, one argument each.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="A file with one item per line ('-' for stdin).")
    ] = None,
    fmt: Annotated[ParseFormat, typer.Option("--format", "-f", help="Output format.")] = ParseFormat.jsonl,
) -> None:
    """Parse items into structured requests (request.schema.json keys), one record per item, in order.

    With --file every line is one item (an empty line gives a record of category "other").
    """
    from openimr.core.requests.parse import parse

    if (file is None) == (not texts):
        raise typer.BadParameter("give items as arguments or --file, not both or neither")
    items = _items(texts, file)
    requests = [parse(item) for item in items]
    if fmt is ParseFormat.table:
        _table(items, requests)
        return
    out = sys.stdout
    for r in requests:
        out.write(json.dumps(r.model_dump(mode="json"), ensure_ascii=False) + "\n")
