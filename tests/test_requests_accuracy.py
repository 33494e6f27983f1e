"""Accuracy of ``openimr.core.requests.parse`` on the dev letters' labeled items (every field >= 97%)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openimr.cli.requests import app
from openimr.core.requests import parse

FIELDS = [
    "category",
    "drug.name",
    "drug.strength",
    "drug.quantity",
    "sessions",
    "frequency_per_week",
    "duration_weeks",
    "body_parts",
    "laterality",
    "retrospective",
    "date_of_service",
    "postoperative",
]
MIN_ACCURACY = 0.97


def _norm(v: object) -> object:
    if isinstance(v, str):
        return re.sub(r"\s+", "", v).lower()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v


def _get(record: dict, field: str) -> object:
    if "." in field:
        outer, inner = field.split(".")
        sub = record.get(outer)
        return None if sub is None else sub.get(inner)
    return record.get(field)


def _accuracy(gold: list[dict], predicted: list[dict]) -> dict[str, float]:
    return {
        f: sum(
            _norm(_get(g["request"], f)) == _norm(_get(p, f)) for g, p in zip(gold, predicted, strict=True)
        )
        / len(gold)
        for f in FIELDS
    }


@pytest.fixture(scope="module")
def gold(requests_path: Path) -> list[dict]:
    return [json.loads(line) for line in requests_path.read_text().splitlines() if line.strip()]


def test_every_field_at_least_97_percent(gold: list[dict]) -> None:
    predicted = [parse(g["item"].replace("\n", " ")).model_dump(mode="json") for g in gold]
    accuracy = _accuracy(gold, predicted)
    low = {f: round(a, 3) for f, a in accuracy.items() if a < MIN_ACCURACY}
    assert not low, f"fields under {MIN_ACCURACY:.0%}: {low}"


def test_cli_file_jsonl_matches_the_library(gold: list[dict], tmp_path: Path) -> None:
    items = tmp_path / "items.txt"
    items.write_text("".join(g["item"].replace("\n", " ") + "\n" for g in gold))
    result = CliRunner().invoke(app, ["parse", "--file", str(items), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == [parse(g["item"].replace("\n", " ")).model_dump(mode="json") for g in gold]
    assert min(_accuracy(gold, lines).values()) >= MIN_ACCURACY
