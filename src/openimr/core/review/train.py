"""Fitting the review models on decided letters (letter.schema.json records)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import joblib
from threadpoolctl import threadpool_limits

from openimr.core.case import case_from_letter
from openimr.core.facts.models import Facts
from openimr.core.facts.pipeline import extract_facts
from openimr.core.families import NO_CITATION, NOT_STATED, OTHER, guideline_family
from openimr.core.models import Decision, ReasonCode
from openimr.core.review.analysis import ItemAnalysis, analyse_case
from openimr.core.review.engine import item_inputs
from openimr.core.review.model import FamilyModel, ItemInput, Models, ReasonModel, SelectedOverturnModel

_NO_FAMILY = {NO_CITATION, NOT_STATED, OTHER}


@dataclass
class Examples:
    """One row per decided item: model input, label, cited family (or None), letter index, the
    row of the disputed operation a perioperative service follows (or None), its analysis, the
    facts of its case's summary, the labelled decisive reason (None where no reasons file labels
    it) and the other reasons the label names as also stated."""

    inputs: list[ItemInput]
    overturned: list[bool]
    families: list[str | None]
    claims_families: list[str]
    groups: list[int]
    texts: list[str]
    operations: list[int | None]
    analyses: list[ItemAnalysis]
    facts: list[Facts]
    reasons: list[ReasonCode | None]
    also: list[frozenset[ReasonCode]]


def load_records(path: Path) -> list[dict]:
    """Letter records from a JSONL file (one per line)."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


REASONS_FILE = "reasons.jsonl"


@dataclass(frozen=True)
class ReasonLabel:
    """One item's labelled decisive reason and the other reasons its letter also states."""

    reason: ReasonCode
    also: frozenset[ReasonCode] = frozenset()


def load_reasons(path: Path) -> dict[tuple[str, int], ReasonLabel]:
    """Decisive-reason labels (REASONS.md's ``reasons.jsonl``) by (letter file, item index)."""
    return {
        (r["file"], int(r["index"])): ReasonLabel(
            ReasonCode(r["reason"]), frozenset(ReasonCode(c) for c in r.get("also", []))
        )
        for r in load_records(path)
    }


def examples(records: Iterable[dict], reasons: dict[tuple[str, int], ReasonLabel] | None = None) -> Examples:
    """Turn decided letters into training rows (the decisions and *reasons* are read only as labels)."""
    out = Examples([], [], [], [], [], [], [], [], [], [], [])
    labels = reasons or {}
    for index, record in enumerate(records):
        case = case_from_letter(record)
        facts = extract_facts(case.clinical_summary)
        analyses = analyse_case(case, facts)
        first = len(out.inputs)
        out.operations += [None if a.operation is None else first + a.operation for a in analyses]
        out.analyses += analyses
        out.facts += [facts] * len(analyses)
        found = [labels.get((record.get("file", ""), k)) for k in range(len(analyses))]
        out.reasons += [f.reason if f else None for f in found]
        out.also += [f.also if f else frozenset() for f in found]
        inputs = item_inputs(analyses, case, facts)
        for x, item, issue in zip(inputs, case.disputed_items, record["issues"], strict=True):
            cited = guideline_family(issue.get("imro_guideline"))
            out.inputs.append(x)
            out.overturned.append(issue["decision"] == Decision.OVERTURNED)
            out.families.append(None if cited in _NO_FAMILY else cited)
            out.claims_families.append(guideline_family(item.claims_administrator_guideline))
            out.groups.append(index)
            out.texts.append(f"{item.item} {case.clinical_summary}")
    return out


def fit(data: Examples, rows: list[int] | None = None) -> Models:
    """Fit the models on *rows* of *data* (all rows by default): the overturn model is chosen by
    letter-grouped cross-validation within those rows (:class:`SelectedOverturnModel`)."""
    rows = list(range(len(data.inputs))) if rows is None else rows
    labelled = [i for i in rows if data.families[i] is not None]
    # Problems this small run three times faster on one BLAS thread than on many.
    with threadpool_limits(1):
        overturn = SelectedOverturnModel().fit(
            [data.inputs[i] for i in rows], [data.overturned[i] for i in rows], [data.groups[i] for i in rows]
        )
        family = FamilyModel().fit([data.inputs[i] for i in labelled], [data.families[i] for i in labelled])
    upheld = [i for i in rows if (r := data.reasons[i]) is not None and r.decision is Decision.UPHELD]
    with threadpool_limits(1):
        reasons = ReasonModel().fit(
            [data.inputs[i] for i in upheld],
            [data.reasons[i] for i in upheld],
            [data.groups[i] for i in upheld],
        )
    return Models(overturn, family, reasons, overturn.policy_)


def save(models: Models, path: Path) -> None:
    """Write the fitted models where the engine loads them (of the overturn model, the chosen one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bundle = {
        "overturn": models.overturn.best_estimator_,
        "family": models.family,
        "reasons": models.reasons,
        "policy": models.policy,
    }
    joblib.dump(bundle, path, compress=3)
