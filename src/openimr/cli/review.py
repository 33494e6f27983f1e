"""``openimr review``, ``openimr eval`` and ``openimr train``: decision support on the command line."""

from __future__ import annotations

import json
import math
import sys
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from openimr.cli.output import console, pipe_safe, status

if TYPE_CHECKING:
    from openimr.core.review.engine import Review


class ReviewFormat(StrEnum):
    jsonl = "jsonl"
    json = "json"
    text = "text"


def worksheet(review: Review, source: str) -> str:
    """A readable reviewer worksheet for one reviewed case."""
    lines = [f"Case {review.case_number or '(no case number)'}  [{source}]", ""]
    for n, item in enumerate(review.items, 1):
        reason = item.decisive_reason
        basis = "follows the guideline's criteria" if item.basis == "guideline" else "statistical estimate"
        lines += [
            f"{n}. {item.item}",
            f"   recommendation: {item.recommendation} ({basis})   p_overturn: {item.p_overturn:.2f}",
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
            *(["   similar past decisions:"] if item.similar else []),
            *(f"     - {d.letter}: {d.item} -> {d.decision} ({d.family})" for d in item.similar[:5]),
            "   draft rationale:",
            f"     {item.draft_rationale}",
            "",
        ]
    return "\n".join(lines)


@pipe_safe
def review_command(
    cases: Annotated[list[Path], typer.Argument(help="Case files (case.schema.json).")],
    fmt: Annotated[ReviewFormat, typer.Option("--format", "-f", help="Output format.")] = ReviewFormat.jsonl,
    model: Annotated[Path | None, typer.Option(help="Fitted models (default: the shipped ones).")] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Letter store whose past decisions to show as similar (a URL).")
    ] = None,
) -> None:
    """Recommend Upheld or Overturned for each disputed item, with the governing guideline,
    the criteria met or missed, a calibrated p_overturn and a draft rationale.

    A case file that cannot be read gets a one-line error on stderr; the others are still
    reviewed, and the exit status is 1 at the end.
    """
    from openimr.core.case import CaseError, load_case
    from openimr.services.review import review  # scikit-learn loads only when reviewing

    failed = 0
    reviews: list[dict] = []
    for path in cases:
        try:
            result = review(load_case(path), str(model) if model else None, db)
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


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


@pipe_safe
def eval_command(
    gold: Annotated[Path, typer.Argument(help="Decided letters (letter.schema.json records, JSONL).")],
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds, grouped by letter.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Cross-validate the engine on decided letters (no letter in both train and test) and print
    AUC, overturn F1/precision/recall, balanced accuracy, family top-1, ECE and Brier beside the
    baselines run on the same folds."""
    from rich.table import Table

    from openimr.core.review.evaluate import METRICS, cross_validate
    from openimr.core.review.train import examples, load_records

    with status(f"Cross-validating on {gold.name} ({folds} folds)..."):
        results = cross_validate(examples(load_records(gold)), folds)
    if as_json:
        typer.echo(json.dumps(results, indent=2))
        return
    table = Table("method", *METRICS, title=f"{gold.name}: {folds}-fold cross-validation grouped by letter")
    for method, figures in results.items():
        table.add_row(method, *(_cell(figures[m]) for m in METRICS))
    console().print(table)


def train_command(
    gold: Annotated[Path, typer.Argument(help="Decided letters (letter.schema.json records, JSONL).")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write the models.")] = None,
) -> None:
    """Fit the overturn, guideline-family and reason models on decided letters (and the decisive
    reasons in reasons.jsonl beside them, when there) and save them (by default over the models
    shipped in the package: this is how they were built)."""
    from openimr.core.review.engine import MODEL_FILE
    from openimr.core.review.train import REASONS_FILE, examples, fit, load_reasons, load_records, save

    labels = gold.parent / REASONS_FILE
    data = examples(load_records(gold), load_reasons(labels) if labels.exists() else None)
    models = fit(data)
    target = output or Path(str(resources.files("openimr.core.review").joinpath(MODEL_FILE)))
    save(models, target)
    typer.echo(
        f"fitted on {len(set(data.groups))} letters, {len(data.inputs)} items "
        f"({sum(data.overturned)} overturned); threshold {models.overturn.threshold_:.3f}; wrote {target}"
    )
