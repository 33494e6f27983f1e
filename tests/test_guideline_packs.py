"""Licensed criteria packs: the format and its schema, load / list --pack / unload, line-numbered
errors, and the whole path from loading the example pack to a review that names the pack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from openimr.cli import app
from openimr.core.guidelines import packs
from openimr.core.guidelines.rules import load_rules

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "criteria-pack.yaml"


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    where = tmp_path / "packs"
    monkeypatch.setenv(packs.PACKS_ENV, str(where))
    return where


def run(*args: str):
    return CliRunner().invoke(app, list(args), prog_name="openimr")


def crafted(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    mutate(data)
    path = tmp_path / "pack.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_shipped_schema_is_the_pack_models_schema():
    assert packs.shipped_schema() == packs.schema()


def test_the_example_pack_validates_and_is_plainly_fictional():
    pack = packs.parse_pack(EXAMPLE.read_text(), str(EXAMPLE))
    assert pack.pack.id == "example-fictional"
    assert "fictional" in pack.pack.title.lower() and "fictional" in pack.pack.licence_holder.lower()
    assert all("fictional" in rule.title.lower() for rule in pack.rules)


def test_load_list_and_unload_a_pack(folder):
    result = run("guidelines", "load", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert "loaded example-fictional" in result.stdout and (folder / "example-fictional.yaml").is_file()
    listed = run("guidelines", "list", "--pack", "example-fictional", "--format", "jsonl")
    rules = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["id"] for r in rules] == [
        "example-fictional:ankle-sprain-therapy",
        "example-fictional:ankle-magnet-therapy",
    ]
    assert all(r["pack"] == "example-fictional" for r in rules)
    assert any(r.id.startswith("example-fictional:") for r in load_rules().rules)
    assert run("guidelines", "check").exit_code == 0
    shown = run("guidelines", "show", "example-fictional:ankle-sprain-therapy")
    assert "criteria pack: example-fictional (Example Guideline Pack" in shown.stdout
    assert "licence holder: Example Review Organization (fictional)" in shown.stdout
    assert run("guidelines", "unload", "example-fictional").exit_code == 0
    assert not any(r.pack for r in load_rules().rules)
    gone = run("guidelines", "unload", "example-fictional")
    assert gone.exit_code == 1 and "no criteria pack 'example-fictional' is loaded" in gone.stderr
    assert run("guidelines", "list", "--pack", "example-fictional").exit_code == 1


@pytest.mark.parametrize(
    ("mutate", "marker", "expected"),
    [
        (
            lambda d: d["rules"][0]["limits"][0].update(kind="max_parsecs"),
            "max_parsecs",
            "rules.0.limits.0.kind",
        ),
        (lambda d: d["pack"].pop("licence_holder"), "id: example-", "pack.licence_holder: Field required"),
        (lambda d: d["rules"][1].update(tier="gospel"), "gospel", "rules.1.tier"),
        (lambda d: d["rules"][0]["conditions"][0].update(id="not_a_condition"), None, "unknown condition"),
        (
            lambda d: d["sources"].update(lc4604_5_findlaw=d["sources"]["example_guideline"]),
            None,
            "source 'lc4604_5_findlaw' is already defined",
        ),
    ],
)
def test_a_bad_pack_is_refused_with_its_line_and_nothing_is_installed(
    tmp_path, folder, mutate, marker, expected
):
    path = crafted(tmp_path, mutate)
    result = run("guidelines", "load", str(path))
    assert result.exit_code == 1 and expected in result.stderr, result.stderr
    if marker:
        line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if marker in text)
        assert f"pack.yaml: line {line}: {expected}" in result.stderr
    assert "Traceback" not in result.output and not folder.exists()


def test_a_pack_whose_aliases_explode_is_refused_before_it_is_read(tmp_path, folder):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 10)}]" for k in range(1, 9)]
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join([*lines, "pack: *a8", "rules: *a8", ""]))
    result = run("guidelines", "load", str(path))
    assert result.exit_code == 1 and "once its aliases are expanded" in result.stderr
    assert not folder.exists()


def test_a_yaml_syntax_error_names_its_line(tmp_path, folder):
    path = tmp_path / "broken.yaml"
    path.write_text("pack:\n  id: x\nrules: [\n")
    result = run("guidelines", "load", str(path))
    assert result.exit_code == 1 and "line 4" in result.stderr and "broken.yaml" in result.stderr


def _item(review: dict, words: str) -> dict:
    return next(i for i in review["items"] if words in i["item"].lower())


def test_the_engine_decides_with_a_loaded_packs_criteria_and_names_the_pack(tmp_path, folder):
    case = {
        "application_received": "2026-06-01",
        "date_of_injury": "2026-02-01",
        "claimant": {"age": 40, "sex": "male"},
        "clinical_summary": "Written for OpenIMR; describes no real person. The worker sprained the right"
        " ankle at work. Diagnosis: right ankle sprain. Examination shows lateral ankle swelling.",
        "disputed_items": [
            {"item": "Physical therapy 12 visits for the right ankle"},
            {"item": "Magnet therapy ankle wrap"},
        ],
    }
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    assert run("guidelines", "load", str(EXAMPLE)).exit_code == 0
    result = run("review", str(path), "--format", "jsonl")
    assert result.exit_code == 0, result.output
    review = json.loads(result.stdout.splitlines()[0])
    therapy, magnet = _item(review, "physical therapy"), _item(review, "magnet")
    assert therapy["basis"] == "guideline" and therapy["recommendation"] == "Upheld"
    assert therapy["decisive_reason"]["criterion"] == "example-fictional:ankle-sprain-therapy / max_visits"
    assert magnet["decisive_reason"]["criterion"] == "example-fictional:ankle-magnet-therapy / recommended"
    assert run("guidelines", "unload", "example-fictional").exit_code == 0
    again = json.loads(run("review", str(path), "--format", "jsonl").stdout.splitlines()[0])
    assert "example-fictional" not in json.dumps(again)
