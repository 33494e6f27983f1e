"""``openimr letters ingest`` and ``openimr letters stats``: the store's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from openimr.corpus.distributed import IngestEngine, ingest_dask
from openimr.letters.extract import expand_paths
from openimr.store.db import default_db_url, make_engine, migrate, session_factory
from openimr.store.ingest import Outcome, ingest_paths
from openimr.store.stats import compute_stats, print_stats

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: $OPENIMR_DB, else the SQLite file ./openimr.db).",
        show_default=False,
    ),
]


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Letter files (PDF or .txt) or folders of them.")],
    db: DbOption = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Parallel parser processes.")] = 1,
    engine: Annotated[IngestEngine, typer.Option(help="local, or dask (-j workers).")] = IngestEngine.local,
    address: Annotated[str | None, typer.Option(help="Dask scheduler (default: a local cluster).")] = None,
) -> None:
    """Parse letters and store them with their issues; letters already stored are left as they are."""
    err = Console(stderr=True)
    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with bar:
        task = bar.add_task("Ingesting", total=len(expand_paths(paths)))

        def advance(_path: Path, _outcome: Outcome, message: str | None) -> None:
            if message:
                err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
            bar.advance(task)

        if engine is IngestEngine.dask:
            report = ingest_dask(paths, db or default_db_url(), address, jobs, advance)
        else:
            report = ingest_paths(paths, db or default_db_url(), jobs, advance)
    err.print(
        f"{len(report.stored)} stored, {len(report.unchanged)} already stored, {len(report.errors)} failed",
        highlight=False,
    )
    raise typer.Exit(0 if report.ok else 1)


def stats(db: DbOption = None) -> None:
    """Counts and Upheld/Overturned rates by guideline family, reviewer specialty and decision year."""
    url = db or default_db_url()
    migrate(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            result = compute_stats(session)
    finally:
        engine.dispose()
    out = Console()
    print_stats(result, out if out.is_terminal else Console(width=160))


def register(app: typer.Typer) -> None:
    """Add ``ingest`` and ``stats`` to the ``letters`` command group."""
    app.command("ingest")(ingest)
    app.command("stats")(stats)
