"""``openimr stats``: one breakdown over the gold letters, its figures, title, JSON and charts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from openimr.cli import app
from openimr.core.models import Letter
from openimr.services.corpus.index import sync_index
from openimr.services.stats import By, breakdown
from openimr.store.db import Store
from openimr.store.ingest import store_letter


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, gold_path: Path):
    """The gold letters stored and indexed."""
    gold = [Letter.model_validate_json(line) for line in gold_path.read_text(encoding="utf-8").splitlines()]
    with Store.open(f"sqlite:///{tmp_path_factory.mktemp('stats') / 'store.db'}") as opened:
        with opened.engine.begin() as conn:
            for letter in gold:
                store_letter(conn, letter, hashlib.sha256(letter.model_dump_json().encode()).hexdigest())
        sync_index(opened.engine)
        yield opened


def indexed(engine: Engine, column: str) -> dict[str, tuple[int, int]]:
    """(upheld, overturned) by *column* of the corpus index, as the statistics counted before."""
    counts: dict[str, list[int]] = {}
    name = f"coalesce(CAST({column} AS TEXT), 'Not stated')"
    query = f"SELECT {name}, decision, count(*) FROM corpus_issues GROUP BY 1, 2"
    with engine.connect() as conn:
        for name, decision, n in conn.execute(text(query)):
            counts.setdefault(name, [0, 0])[decision == "Overturned"] += n
    return {name: (u, o) for name, (u, o) in counts.items()}


@pytest.mark.parametrize(
    ("by", "column"), [(By.family, "family"), (By.year, "year"), (By.category, "category")]
)
def test_groups_match_the_corpus_index(store: Store, by: By, column: str) -> None:
    result = breakdown(store.engine, by)
    assert {g.name: (g.upheld, g.overturned) for g in result.groups} == indexed(store.engine, column)
    assert (result.overall.issues, result.overall.overturned) == (258, 28)


def test_by_specialty_counts_each_issue_once_overall(store: Store) -> None:
    result = breakdown(store.engine, By.specialty)
    assert sum(g.issues for g in result.groups) > 258  # an issue counts under each specialty
    assert (result.overall.issues, result.overall.upheld, result.overall.overturned) == (258, 230, 28)
    assert result.title.startswith("Decisions by specialty (258 issues; an issue counts under each")
    table = CliRunner().invoke(app, ["stats", "--by", "specialty", "--db", store.url])
    assert table.exit_code == 0 and "258 issues; an issue counts under" in " ".join(table.stdout.split())


def test_json_has_the_overall_figures_and_every_group(store: Store) -> None:
    result = CliRunner().invoke(app, ["stats", "--by", "specialty", "--db", store.url, "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (
        data["by"] == "specialty" and data["overall"]["issues"] == 258 and data["overall"]["overturned"] == 28
    )
    with store.engine.connect() as conn:
        assert data["overall"]["letters"] == conn.scalar(text("SELECT count(*) FROM letters")) == 100
    assert data["note"] == "an issue counts under each of its reviewer's specialties"
    expected = breakdown(store.engine, By.specialty).groups
    assert [(g["group"], g["issues"], g["letters"]) for g in data["groups"]] == [
        (g.name, g.issues, g.letters) for g in expected
    ]


@pytest.mark.parametrize(("fmt", "magic"), [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_a_chart_without_output_goes_to_standard_output(
    store: Store, fmt: str, magic: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["stats", "--by", "specialty", "--db", store.url, "-f", fmt])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(magic)
    assert list(tmp_path.iterdir()) == []
    if fmt == "svg":
        assert b"258 issues; an issue counts under each" in result.stdout_bytes
