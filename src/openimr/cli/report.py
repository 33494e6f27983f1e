"""``openimr report ...``: reports on the IMR process."""

from __future__ import annotations

import datetime as dt
import sys
from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from openimr.cli.output import console, not_to_terminal, pipe_safe
from openimr.cli.store import DbOption

app = typer.Typer(help="Reports on the IMR process: CMS-0057-F style metrics.", no_args_is_help=True)


class MetricsFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    png = "png"
    svg = "svg"


@app.command("metrics")
@pipe_safe
def metrics_command(
    year: Annotated[int, typer.Option("--year", min=1900, max=2200, help="The year of the decisions.")] = (
        dt.date.today().year
    ),
    fmt: Annotated[
        MetricsFormat, typer.Option("--format", "-f", help="table, json, csv, or a png or svg chart.")
    ] = MetricsFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    db: DbOption = None,
) -> None:
    """The year's determinations as CMS-0057-F has payers report prior authorization: upheld and
    overturned per item and per case, the share decided within the statutory time, and the mean
    and median days from complete records to decision, for all cases and by priority."""
    not_to_terminal(fmt.value, output)
    from openimr.cli.cases import case_service
    from openimr.cli.tables import print_metrics
    from openimr.services.metrics import chart, metrics, write_csv, write_json

    binary = fmt in (MetricsFormat.png, MetricsFormat.svg)
    with case_service(db) as (cases, who):
        report = metrics(cases, who, year)
    if fmt is MetricsFormat.table:
        print_metrics(report, console())
    elif binary:
        target = output if output else sys.stdout.buffer
        chart(report, target, fmt.value)
        if output:
            typer.echo(f"wrote {output}", err=True)
    else:
        with output.open("w", encoding="utf-8", newline="") if output else nullcontext(sys.stdout) as out:
            (write_json if fmt is MetricsFormat.json else write_csv)(report, out)
