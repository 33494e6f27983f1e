"""``openimr review``, ``openimr eval`` and ``openimr train``: decision support on the command line."""

from __future__ import annotations

import json
import os
import stat
import sys
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from openimr.cli.output import console, pipe_safe, status
from openimr.services.options import RULES_ENV

if TYPE_CHECKING:
    from openimr.core.case import Case
    from openimr.core.review.engine import Review
    from openimr.core.review.train import Examples


class ReviewFormat(StrEnum):
    jsonl = "jsonl"
    json = "json"
    text = "text"


def worksheet(review: Review, source: str) -> str:
    """A readable reviewer worksheet for one reviewed case."""
    lines = [f"Case {review.case_number or '(no case number)'}  [{source}]", ""]
    for n, item in enumerate(review.items, 1):
        reason = item.decisive_reason
        basis = {
            "guideline": "the guideline's criteria evaluated on the record",
            "statistical": "the likelier outcome by p_overturn; no guideline finding",
            "none": "no basis: the reviewer decides",
        }[item.basis]
        p = item.precedents
        lines += [
            f"{n}. {item.item}",
            f"   recommendation: {item.recommendation or 'none'} ({basis})",
            f"   likelihood of an overturn: {item.p_overturn:.0%} (an estimate from past decisions)",
            f"   guideline: {item.guideline.family}"
            + (f" - {item.guideline.title}" if item.guideline.title else "")
            + (f" ({item.guideline.citation})" if item.guideline.citation else ""),
            *(
                [
                    f"   decisive reason: {reason.code.replace('_', ' ')}"
                    + (f": {reason.label}" if reason.label else "")
                ]
                if reason
                else []
            ),
            f"   request: {item.request.get('category')}"
            + (f", {item.request['sessions']} sessions" if item.request.get("sessions") else ""),
            *(["   criteria:"] if item.criteria else []),
            *(f"     - {c.label}: {c.status.replace('_', ' ')} - {c.detail}" for c in item.criteria),
            *(["   what documentation would change it:"] if item.hints else []),
            *(f"     - {hint}" for hint in item.hints),
            *(
                [
                    f"   precedents: {p.overturned} of {p.count} similar past items overturned "
                    f"(95% interval {p.low:.0%} to {p.high:.0%})",
                    *(f"     - {r.code.value} ({r.count}): {r.quote!r} ({r.letter})" for r in p.reasons),
                ]
                if p
                else []
            ),
            *(["   similar past decisions:"] if item.similar else []),
            *(f"     - {d.letter}: {d.item} -> {d.decision} ({d.family})" for d in item.similar[:5]),
            "   draft rationale:",
            f"     {item.draft_rationale}",
            "",
        ]
    return "\n".join(lines)


# A case at every bound of :mod:`openimr.core.bounds` is about 1.5 million characters; its file,
# even with every character \u-escaped, stays under this. A larger file is refused before it is read.
MAX_CASE_BYTES = 10_000_000


def read_case(path: Path) -> Case:
    """The case in the file *path*, read within :data:`MAX_CASE_BYTES`; ``CaseError`` naming the
    file and the problem for anything else (not a regular file, too large, not UTF-8, invalid or
    too deeply nested JSON, a number of thousands of digits, a wrong shape)."""
    from openimr.core.case import CaseError, case_from_json

    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO does not block the open
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise CaseError(name, "not a regular file")
            data = handle.read(MAX_CASE_BYTES + 1)
    except OSError as exc:
        raise CaseError(name, f"cannot read file ({exc.strerror})") from None
    if len(data) > MAX_CASE_BYTES:
        raise CaseError(name, f"file too large for one case (over {MAX_CASE_BYTES / 1e6:g} MB)")
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise CaseError(name, f"not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise CaseError(name, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise CaseError(name, "invalid case: JSON nested too deeply") from None
    except ValueError:  # the only other: an integer past Python's digit limit
        digits = sys.get_int_max_str_digits()
        raise CaseError(name, f"invalid case: a number of more than {digits:,} digits") from None
    try:
        return case_from_json(value, name)
    except RecursionError:
        raise CaseError(name, "invalid case: JSON nested too deeply") from None


@pipe_safe
def review_command(
    cases: Annotated[list[Path], typer.Argument(help="Case files (case.schema.json).")],
    fmt: Annotated[ReviewFormat, typer.Option("--format", "-f", help="Output format.")] = ReviewFormat.jsonl,
    model: Annotated[Path | None, typer.Option(help="Fitted models (default: the shipped ones).")] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Letter store whose past decisions to show as similar (a URL).")
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules",
            envvar=RULES_ENV,
            metavar="FILE",
            help="A rules file to review with instead of the packaged MTUS rules"
            " (default: $OPENIMR_RULES, if set).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Recommend Upheld or Overturned for each disputed item, with the governing guideline,
    the criteria met or missed, a calibrated p_overturn and a draft rationale.

    A case file that cannot be read gets a one-line error on stderr; the others are still
    reviewed, and the exit status is 1 at the end.
    """
    from openimr.core.case import CaseError
    from openimr.core.guidelines.rules import RuleFileError
    from openimr.services.app import OpenIMR  # scikit-learn loads only when reviewing
    from openimr.services.database import existing
    from openimr.services.guidelines import load
    from openimr.services.settings import Settings

    if db is not None:
        existing(db)  # the letter store is read, never created
    settings = Settings.from_env(db=db)
    try:  # a bad rules file is one error line before any case is read
        ruleset = load(rules, settings.packs)
    except RuleFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    application = OpenIMR(settings)
    application.rules = ruleset
    failed = 0
    reviews: list[dict] = []
    for path in cases:
        try:
            result = application.review(read_case(path), str(model) if model else None, db is not None)
        except CaseError as exc:
            failed += 1
            typer.echo(f"error: {exc}", err=True)
            continue
        if fmt is ReviewFormat.jsonl:
            sys.stdout.write(result.model_dump_json() + "\n")
        elif fmt is ReviewFormat.text:
            sys.stdout.write(worksheet(result, str(path)) + "\n")
        else:
            reviews.append(result.model_dump(mode="json"))
    if fmt is ReviewFormat.json:
        json.dump(reviews[0] if len(cases) == 1 and reviews else reviews, sys.stdout, indent=2)
        sys.stdout.write("\n")
    if failed:
        raise typer.Exit(1)


def decided(gold: Path) -> Examples:
    """The decided items in the letter records of *gold* (JSONL), labelled with the decisive reasons
    of reasons.jsonl beside it when there; one error line and exit 1 where it holds none."""
    from openimr.core.case import CaseError
    from openimr.core.review.train import REASONS_FILE, examples, load_reasons, load_records

    labels = gold.parent / REASONS_FILE
    try:
        records = load_records(gold)
        if not all(isinstance(record, dict) for record in records):
            typer.echo(f"error: {gold}: not letter records, one JSON object a line", err=True)
            raise typer.Exit(1)
        data = examples(records, load_reasons(labels) if labels.exists() else None)
    except UnicodeDecodeError as exc:
        typer.echo(f"error: {gold}: not UTF-8 text (byte {exc.start})", err=True)
        raise typer.Exit(1) from None
    except json.JSONDecodeError as exc:
        typer.echo(f"error: {gold}: not letter records, one JSON object a line ({exc.msg})", err=True)
        raise typer.Exit(1) from None
    except CaseError as exc:
        typer.echo(f"error: {gold}: not letter records ({exc.problem})", err=True)
        raise typer.Exit(1) from None
    if not data.inputs:
        typer.echo(
            f"error: {gold}: no decided letter record in it (letter.schema.json, one a line)", err=True
        )
        raise typer.Exit(1)
    return data


class EvalFormat(StrEnum):
    table = "table"
    json = "json"


def _cell(figure: dict | None) -> str:
    return "-" if figure is None else f"{figure['mean']:.3f} ± {figure['sd']:.3f}"


def _tables(results: dict, title: str) -> list:
    """The figures (one row per figure, one column per method), per-code recall of the decisive
    reason (when the items have labelled reasons), and the inner loop's choices, as rich tables."""
    from rich.table import Table

    from openimr.core.review.evaluate import METRICS, RECOMMENDATION_METRICS

    tables = []
    for metrics, caption in (
        (RECOMMENDATION_METRICS, f"{title}: the recommendations made"),
        (tuple(m for m in METRICS if m not in RECOMMENDATION_METRICS), title),
    ):
        methods = [
            m for m in results["figures"] if any(results["figures"][m].get(k) is not None for k in metrics)
        ]
        figures = Table("figure", *methods, title=caption)
        for metric in metrics:
            cells = [results["figures"][m].get(metric) for m in methods]
            if any(c is not None for c in cells):
                figures.add_row(metric, *(_cell(c) for c in cells))
        tables.append(figures)
    recall = results["per_code_recall"]
    codes = Table("decisive reason", "labelled", *recall, title="per-code recall of the decisive reason")
    for code, n in results["labelled_codes"].items():
        codes.add_row(code, str(n), *(_cell(recall[m].get(code)) for m in recall))
    total = sum(results["inner_choices"].values())
    choices = Table("inner-loop choice", "outer folds", title="the overturn model the inner loop chose")
    for label, n in results["inner_choices"].items():
        choices.add_row(label, f"{n} of {total}")
    return [*tables, codes, choices] if results["labelled_codes"] else [*tables, choices]


@pipe_safe
def eval_command(
    gold: Annotated[Path, typer.Argument(help="Decided letters (letter.schema.json records, JSONL).")],
    repeats: Annotated[int, typer.Option(min=1, help="Repeats of the outer split (seeds 0, 1, ...).")] = 10,
    folds: Annotated[int, typer.Option(min=2, help="Outer cross-validation folds, grouped by letter.")] = 5,
    fmt: Annotated[EvalFormat, typer.Option("--format", "-f", help="Output format.")] = EvalFormat.table,
) -> None:
    """Cross-validate the engine on decided letters, nested and grouped by letter, and print every
    figure (mean ± sd over repeated splits) beside the baselines run on the same folds.

    No letter is in both train and test, and the overturn model is chosen inside each training set
    as `openimr train` chooses it. Figures: AUC, overturn F1 (P, R), ECE, Brier, family top-1,
    decisive-reason accuracy and "a stated reason" share (from reasons.jsonl beside GOLD), per-code
    recall, guideline-basis share and agreement, the share an encoded rule governs, contradictions
    between criteria, reason and recommendation, and how often each candidate was chosen."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from openimr.core.review.evaluate import nested_cross_validate

    with status(f"Reading {gold.name}..."):
        data = decided(gold)
    err = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=err, disable=not err.is_terminal) as progress:
            task = progress.add_task(f"{repeats} x {folds}-fold nested CV", total=repeats * folds)
            results = nested_cross_validate(data, folds, repeats, step=lambda: progress.advance(task))
    except ValueError as exc:  # too few letters or overturns for the folds
        typer.echo(f"error: {gold}: {exc}", err=True)
        raise typer.Exit(2) from None
    if fmt is EvalFormat.json:
        typer.echo(json.dumps(results, indent=2))
        return
    title = (
        f"{gold.name}: {results['letters']} letters, {results['items']} items ({results['overturned']} "
        f"overturned); {folds}-fold CV grouped by letter, mean ± sd over {repeats} repeats"
    )
    out = console()
    for table in _tables(results, title):
        out.print(table)


def train_command(
    gold: Annotated[Path, typer.Argument(help="Decided letters (letter.schema.json records, JSONL).")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write the models.")] = None,
) -> None:
    """Fit the overturn, guideline-family and reason models on decided letters and save them (by
    default over the models shipped in the package: this is how they were built).

    The decisive reasons come from reasons.jsonl beside the letters, when there. The overturn model
    is chosen by the letter-grouped cross-validation `openimr eval` runs inside each training set."""
    from openimr.core.review.engine import MODEL_FILE
    from openimr.core.review.evaluate import choice_label
    from openimr.core.review.train import fit, save

    data = decided(gold)
    models = fit(data)
    target = output or Path(str(resources.files("openimr.core.review").joinpath(MODEL_FILE)))
    save(models, target)
    typer.echo(
        f"fitted on {len(set(data.groups))} letters, {len(data.inputs)} items "
        f"({sum(data.overturned)} overturned); overturn model {choice_label(models.overturn.chosen_)}; "
        f"wrote {target}"
    )
