"""Fitting the review models on decided letters (letter.schema.json records)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import joblib

from openimr.core.case import case_from_letter
from openimr.core.facts.pipeline import extract_facts
from openimr.core.families import NO_CITATION, NOT_STATED, OTHER, guideline_family
from openimr.core.models import Decision, ReasonCode
from openimr.core.review.analysis import ItemAnalysis, analyse_case
from openimr.core.review.engine import item_inputs
from openimr.core.review.model import FamilyModel, ItemInput, OverturnModel, ReasonPrior

_NO_FAMILY = {NO_CITATION, NOT_STATED, OTHER}


@dataclass
class Examples:
    """One row per decided item: model input, label, cited family (or None), letter index, the
    row of the disputed operation a perioperative service follows (or None), its analysis, and
    the labelled decisive reason (None where no reasons file labels it)."""

    inputs: list[ItemInput]
    overturned: list[bool]
    families: list[str | None]
    claims_families: list[str]
    groups: list[int]
    texts: list[str]
    operations: list[int | None]
    analyses: list[ItemAnalysis]
    reasons: list[ReasonCode | None]


def load_records(path: Path) -> list[dict]:
    """Letter records from a JSONL file (one per line)."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


REASONS_FILE = "reasons.jsonl"


def load_reasons(path: Path) -> dict[tuple[str, int], ReasonCode]:
    """Decisive-reason labels (REASONS.md's ``reasons.jsonl``) by (letter file, item index)."""
    return {(r["file"], int(r["index"])): ReasonCode(r["reason"]) for r in load_records(path)}


def examples(records: Iterable[dict], reasons: dict[tuple[str, int], ReasonCode] | None = None) -> Examples:
    """Turn decided letters into training rows (the decisions and *reasons* are read only as labels)."""
    out = Examples([], [], [], [], [], [], [], [], [])
    labels = reasons or {}
    for index, record in enumerate(records):
        case = case_from_letter(record)
        analyses = analyse_case(case, extract_facts(case.clinical_summary))
        first = len(out.inputs)
        out.operations += [None if a.operation is None else first + a.operation for a in analyses]
        out.analyses += analyses
        out.reasons += [labels.get((record.get("file", ""), k)) for k in range(len(analyses))]
        inputs = item_inputs(analyses, case)
        for x, item, issue in zip(inputs, case.disputed_items, record["issues"], strict=True):
            cited = guideline_family(issue.get("imro_guideline"))
            out.inputs.append(x)
            out.overturned.append(issue["decision"] == Decision.OVERTURNED)
            out.families.append(None if cited in _NO_FAMILY else cited)
            out.claims_families.append(guideline_family(item.claims_administrator_guideline))
            out.groups.append(index)
            out.texts.append(f"{item.item} {case.clinical_summary}")
    return out


@dataclass(frozen=True)
class Models:
    """The fitted parts of the review engine."""

    overturn: OverturnModel
    family: FamilyModel
    reasons: ReasonPrior


def fit(data: Examples, rows: list[int] | None = None) -> Models:
    """Fit the models on *rows* of *data* (all rows by default)."""
    rows = list(range(len(data.inputs))) if rows is None else rows
    overturn = OverturnModel().fit([data.inputs[i] for i in rows], [data.overturned[i] for i in rows])
    labelled = [i for i in rows if data.families[i] is not None]
    family = FamilyModel().fit([data.inputs[i] for i in labelled], [data.families[i] for i in labelled])
    upheld = [i for i in rows if (r := data.reasons[i]) is not None and r.decision is Decision.UPHELD]
    reasons = ReasonPrior().fit(
        [data.analyses[i].request.category for i in upheld], [data.reasons[i] for i in upheld]
    )
    return Models(overturn, family, reasons)


def save(models: Models, path: Path) -> None:
    """Write the fitted models where the engine loads them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(
        {"overturn": models.overturn, "family": models.family, "reasons": models.reasons}, path, compress=3
    )
