"""``openimr search``, ``openimr similar``, ``openimr stats`` and ``openimr export``.

Each command opens the store once (upgrading its schema) and first brings the corpus index up to
date with it (see :func:`openimr.services.corpus.index.sync_index`), so it sees every letter
ingested so far.
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from openimr.cli.output import console, not_to_terminal, pipe_safe, status
from openimr.cli.store import DbOption
from openimr.services.options import By, ExportFormat, Mode

if TYPE_CHECKING:
    from openimr.services.corpus.search import Hit
    from openimr.services.database import Store

OutputOption = Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")]
LimitOption = Annotated[int, typer.Option("--limit", "-n", min=1, help="Number of results.")]


def _open(db: str | None, embed: bool = False) -> Store:
    """The store at *db*, upgraded when behind, its corpus index synced (with embeddings when *embed*)."""
    from openimr.services.database import open_corpus

    return open_corpus(db, embed)


class HitFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"


HitFormatOption = Annotated[
    HitFormat,
    typer.Option(
        "--format", "-f", help="table (rank and relevance), or jsonl (one hit a line, with its raw score)."
    ),
]


def _relevance(score: float, top: float) -> str:
    """*score* as a share of the best hit's: 100% for the best, less for the others."""
    return f"{round(100 * score / top)}%" if top > 0 else "-"


def _print_hits(hits: list[Hit], fmt: HitFormat) -> None:
    if fmt is HitFormat.jsonl:
        for hit in hits:
            sys.stdout.write(json.dumps(asdict(hit), ensure_ascii=False) + "\n")
        return
    from rich.table import Table

    top = max((hit.score for hit in hits), default=0.0)
    columns = ("rank", "letter", "#", "item", "decision", "guideline", "category", "year", "relevance")
    table = Table(*columns)
    for rank, hit in enumerate(hits, 1):
        table.add_row(
            str(rank),
            hit.letter,
            str(hit.item_number),
            hit.item,
            hit.decision,
            hit.family,
            hit.category,
            str(hit.year or ""),
            _relevance(hit.score, top),
        )
    console().print(table)


@pipe_safe
def search(
    query: Annotated[
        str, typer.Argument(help="Words to look for, e.g. 'postoperative acupuncture 12 visits'.")
    ],
    decision: Annotated[str | None, typer.Option(help="Upheld or Overturned.")] = None,
    family: Annotated[
        str | None, typer.Option(help="Guideline family, e.g. 'MTUS Chronic Pain Medical Treatment'.")
    ] = None,
    category: Annotated[
        str | None, typer.Option(help="Request category, e.g. acupuncture, drug, imaging.")
    ] = None,
    body_part: Annotated[
        str | None, typer.Option(help="Body part or region, e.g. 'lumbar spine', knee.")
    ] = None,
    drug_class: Annotated[str | None, typer.Option(help="Drug class, e.g. opioid.")] = None,
    year: Annotated[int | None, typer.Option(help="Decision year.")] = None,
    specialty: Annotated[
        str | None, typer.Option(help="Reviewer specialty, e.g. 'Orthopaedic Surgery'.")
    ] = None,
    mode: Annotated[
        Mode, typer.Option(help="hybrid: full text and semantic similarity together.")
    ] = Mode.hybrid,
    db: DbOption = None,
    limit: LimitOption = 20,
    fmt: HitFormatOption = HitFormat.table,
) -> None:
    """Search the stored decisions: one hit per line with its letter, item, decision and guideline.

    Hits come best first, with their rank and their relevance as a share of the best hit's (100%).
    When no decision matches, a line on stderr says so and nothing is printed; that is not a
    failure: the exit status is 0 (2 for a semantic search without its extra installed).
    """
    from openimr.services.corpus import embeddings
    from openimr.services.corpus.search import Filters, Searcher

    if mode is not Mode.text and not embeddings.available():
        if mode is Mode.semantic:
            typer.echo(f"error: {embeddings.INSTALL_HINT}", err=True)
            raise typer.Exit(2)
        typer.echo(f"note: full-text search only; {embeddings.INSTALL_HINT}", err=True)
        mode = Mode.text
    filters = Filters(decision, family, category, body_part, drug_class, year, specialty)
    with status(f"Searching ({mode.value})..."), _open(db, embed=mode is not Mode.text) as store:
        hits = Searcher(store.engine).search(query, filters, limit, mode)
    if not hits:
        given = [f"{k}={v}" for k, v in asdict(filters).items() if v is not None]
        typer.echo(f"no decision matches {query!r}" + (f" ({', '.join(given)})" if given else ""), err=True)
        return
    _print_hits(hits, fmt)


@pipe_safe
def similar(
    item: Annotated[
        str, typer.Argument(help="A disputed item as a letter writes it, e.g. 'Norco 10/325mg #120'.")
    ],
    exclude_letter: Annotated[
        str | None, typer.Option(help="Leave out this letter (case number, else file name).")
    ] = None,
    db: DbOption = None,
    limit: LimitOption = 10,
    fmt: HitFormatOption = HitFormat.table,
) -> None:
    """Past decisions on items like ITEM: same category, drug or class, body part, amount and wording.

    When there is none, a line on stderr says so and nothing is printed (exit status 0).
    """
    from openimr.services.corpus.search import Hit
    from openimr.services.corpus.similar import SimilarIndex
    from openimr.services.database import open_store

    with open_store(db, create=False) as store:
        matches = SimilarIndex.from_db(store.engine).similar(item, limit, exclude_letter)
    hits = [
        Hit(
            m.record.letter,
            m.record.position + 1,
            m.record.item,
            m.record.decision,
            m.record.family,
            m.record.features.category,
            m.record.year,
            m.score,
        )
        for m in matches
    ]
    if not hits:
        typer.echo(f"no past decision like {item!r}", err=True)
        return
    _print_hits(hits, fmt)


class StatsFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    png = "png"
    svg = "svg"


@pipe_safe
def stats(
    by: Annotated[By, typer.Option("--by", help="The dimension to group issues by.")] = By.family,
    db: DbOption = None,
    fmt: Annotated[
        StatsFormat, typer.Option("--format", "-f", help="table, json, csv, or a png or svg chart.")
    ] = StatsFormat.table,
    output: OutputOption = None,
) -> None:
    """Issues, Upheld/Overturned and overturn rates with Wilson 95% intervals, as a table, JSON,
    CSV or chart. By specialty an issue counts under each of its reviewer's specialties; the title
    and the overall figures count it once."""
    not_to_terminal(fmt.value, output)
    from openimr.cli.tables import print_table
    from openimr.services.database import NoStore
    from openimr.services.stats import Breakdown, breakdown, chart, total, write_csv, write_json

    binary = fmt in (StatsFormat.png, StatsFormat.svg)
    try:
        with _open(db) as store:
            result = breakdown(store.engine, by)
    except NoStore as exc:
        if db is not None:
            raise
        # The default store not made yet holds no letter: its statistics are an empty corpus's,
        # said so on stderr, and nothing is created.
        typer.echo(f"note: {exc}; these are the statistics of an empty corpus", err=True)
        result = Breakdown(by, [], total([]))
    if fmt is StatsFormat.table:
        print_table(result, console())
    elif binary:
        target = output.with_suffix(f".{fmt.value}") if output else sys.stdout.buffer
        chart(result.groups, by, target, result.overall, fmt.value)
        if output:
            typer.echo(f"wrote {target}", err=True)
    else:
        with output.open("w", encoding="utf-8", newline="") if output else nullcontext(sys.stdout) as out:
            if fmt is StatsFormat.json:
                write_json(result, out)
            else:
                write_csv(result.groups, out)


def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="csv or parquet.")] = ExportFormat.csv,
    db: DbOption = None,
) -> None:
    """Export the structured corpus, one row per issue, to CSV or Parquet."""
    from openimr.services.corpus.export import export as export_corpus

    with _open(db) as store:
        count = export_corpus(store.engine, output, fmt)
    typer.echo(f"wrote {count} issues to {output}", err=True)


def register(app: typer.Typer) -> None:
    """Add the corpus commands to the root command."""
    app.command("search")(search)
    app.command("similar")(similar)
    app.command("stats")(stats)
    app.command("export")(export)
