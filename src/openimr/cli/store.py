"""``openimr letters ingest`` and ``openimr letters stats``: the store's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from openimr.cli.output import console, pipe_safe
from openimr.core.letters.errors import NOTHING_TO_DO
from openimr.services.options import IngestEngine

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: $OPENIMR_DB, else the SQLite file ./openimr.db).",
        show_default=False,
    ),
]


def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Letter files (PDF or .txt) or folders of them (not their sub-folders)."),
    ],
    db: DbOption = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Parallel parser processes.")] = 1,
    engine: Annotated[IngestEngine, typer.Option(help="local, or dask (-j workers).")] = IngestEngine.local,
    address: Annotated[str | None, typer.Option(help="Dask scheduler (default: a local cluster).")] = None,
) -> None:
    """Parse letters and store them with their issues; letters already stored are left as they are.

    A letter is stored whole or not at all (committed in groups; one refused is rolled back
    alone), keyed by its case number, else by its text (the same letter in another encoding is
    stored once). Each file that fails gets an "error: FILE: why" line, each folder entry not read
    a "skipped: FILE: why" line, and each letter stored that may be incomplete a
    "warning: FILE: why" line; the batch goes on.

    A store that cannot be written (a full disk, a database gone) stops the batch with one
    "error: the store cannot be written (why)" line; the letters committed before stay stored, and
    running the command again stores the rest.

    Exit status: 0 when every file was stored or already stored, 1 when some failed or the store
    could not be written, 2 when the paths hold no letter file.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from sqlalchemy.exc import OperationalError

    from openimr.core.letters.extract import scan_paths
    from openimr.services.corpus.ingest import ingest as ingest_letters
    from openimr.services.database import open_store

    err = Console(stderr=True)

    def say(line: str) -> None:
        err.print(line, markup=False, highlight=False, soft_wrap=True)

    inputs = scan_paths(paths)
    for line in inputs.lines():
        say(line)
    if nothing := inputs.nothing_found(paths):
        say(nothing)
        raise typer.Exit(NOTHING_TO_DO)
    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    stored = 0

    def advance(_path: Path | str, outcome: str, message: str | None) -> None:
        nonlocal stored
        stored += outcome == "stored"
        if message:
            say(f"{'error' if outcome == 'error' else 'warning'}: {message}")
        bar.advance(task)

    try:
        with open_store(db) as store, bar:
            task = bar.add_task("Ingesting", total=len(inputs.files))
            report = ingest_letters(inputs.files, store, engine, address, jobs, advance)
    except OperationalError as exc:  # a full disk, a database gone: every next letter would fail too
        why = " ".join(str(exc.orig or exc).split())
        say(f"error: the store cannot be written ({why}): {stored} stored before it stopped; run it again")
        raise typer.Exit(1) from None
    failed = len(report.errors) + len(inputs.errors)
    err.print(
        f"{len(report.stored)} stored, {len(report.unchanged)} already stored, {failed} failed",
        highlight=False,
    )
    raise typer.Exit(0 if not failed else 1)


@pipe_safe
def stats(db: DbOption = None) -> None:
    """Letters, issues and Upheld/Overturned rates by guideline family, reviewer specialty and
    decision year at once: the overview of ``openimr stats --by ...`` (which adds intervals, JSON,
    CSV and charts)."""
    from openimr.cli.tables import print_stats
    from openimr.services.database import open_store
    from openimr.services.stats import compute_stats

    with open_store(db, create=False) as store, store.engine.connect() as conn:
        result = compute_stats(conn)
    print_stats(result, console())


def register(app: typer.Typer) -> None:
    """Add ``ingest`` and ``stats`` to the ``letters`` command group."""
    app.command("ingest")(ingest)
    app.command("stats")(stats)
