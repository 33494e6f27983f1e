"""The MTUS Drug List's marks as rules: which rows make one, and a review decided on a crafted row."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from openimr.cli import app
from openimr.core.guidelines import drug_list, formulary, packs
from openimr.core.guidelines.rules import load_packaged, rules_for

FORMULARY = Path(formulary.__file__).with_name(formulary.FORMULARY_FILE)


def crafted(**topics: list[str]) -> formulary.Formulary:
    """The shipped formulary with a crafted cyclobenzaprine row carrying *topics* (written for the test)."""
    data = yaml.safe_load(FORMULARY.read_text())
    data["drugs"].append(
        {
            "ingredient": "cyclobenzaprine",
            "status": "non-exempt",
            "forms": ["tablet"],
            "special_fill": True,
            "special_fill_days": 4,
            "topics": {topic.replace("_", " "): marks for topic, marks in topics.items()},
            "from": dt.date(2026, 1, 1),
            "citation": "crafted row",
            "brands": ["flexeril"],
            "verification": {
                "status": "unverified",
                "source": "drug_list_v3",
                "evidence": "Crafted for a test.",
            },
        }
    )
    return formulary.parse_formulary(yaml.safe_dump(data))


def test_only_a_topic_whose_only_mark_is_not_recommended_makes_a_rule():
    made = drug_list.with_drug_list(
        load_packaged(),
        crafted(
            Low_Back_Disorders=["not_recommended"],
            Knee_Disorders=["recommended", "not_recommended"],
            Chronic_Pain=["not_recommended"],
        ),
    )
    rules = [r for r in made.rules if r.family == drug_list.FAMILY]
    assert [r.id for r in rules] == ["drug-list:cyclobenzaprine:low-back-disorders"]
    rule = rules[0]
    assert rule.recommendation.value == "not_recommended" and rule.effective.from_ == dt.date(2026, 1, 1)
    assert rule.verification.status.value == "unverified" and "Low Back Disorders" in rule.citation.section
    assert made.drug_classes[drug_list.drug_class_of_name("cyclobenzaprine")].members == (
        "cyclobenzaprine",
        "flexeril",
    )
    assert drug_list.with_drug_list(load_packaged(), crafted()) == load_packaged()


def test_a_rows_fill_days_and_topics_answer_the_formulary():
    answer = formulary.status(
        "Flexeril 10mg", dt.date(2026, 6, 1), crafted(Low_Back_Disorders=["not_recommended"])
    )
    assert (answer.status, answer.special_fill_days, answer.forms) == ("non-exempt", 4, ["tablet"])
    assert answer.topics == {"Low Back Disorders": ["not_recommended"]}
    with pytest.raises(formulary.FormularyFileError, match="unknown ACOEM topics"):
        crafted(Toes=["recommended"])


@pytest.fixture
def listed(monkeypatch):
    monkeypatch.setattr(drug_list, "load_formulary", lambda: crafted(Low_Back_Disorders=["not_recommended"]))
    packs.shipped_rules.cache_clear()
    yield
    monkeypatch.undo()
    packs.shipped_rules.cache_clear()


def test_a_drug_the_list_marks_not_recommended_for_the_condition_is_decided_on_the_row(listed, tmp_path):
    assert rules_for("drug", drug_list.drug_class_of_name("cyclobenzaprine"), diagnoses="lumbar strain")
    case = {
        "application_received": "2026-06-01",
        "date_of_injury": "2026-01-10",
        "claimant": {"age": 50, "sex": "female"},
        "clinical_summary": "Written for OpenIMR; describes no real person. Diagnosis: lumbar strain with low"
        " back pain since lifting at work.",
        "disputed_items": [{"item": "Cyclobenzaprine 7.5mg #60"}],
    }
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    result = CliRunner().invoke(app, ["review", str(path), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    item = json.loads(result.stdout.splitlines()[0])["items"][0]
    assert item["basis"] == "guideline" and item["recommendation"] == "Upheld"
    assert (
        item["decisive_reason"]["criterion"] == "drug-list:cyclobenzaprine:low-back-disorders / recommended"
    )
    assert item["decisive_reason"]["code"] == "not_recommended"


def test_an_exempt_drugs_review_says_so(tmp_path):
    case = {
        "application_received": "2026-06-01",
        "claimant": {"age": 50, "sex": "female"},
        "clinical_summary": "Written for OpenIMR; no real person. Depressive disorder after a work injury.",
        "disputed_items": [{"item": "Bupropion HCL 150mg #30"}, {"item": "Naproxen 500mg #60"}],
    }
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    result = CliRunner().invoke(app, ["review", str(path), "--format", "jsonl"])
    bupropion, naproxen = json.loads(result.stdout.splitlines()[0])["items"]
    note = next(r for r in bupropion["reasons"] if r.startswith("MTUS Drug List"))
    assert "bupropion is Exempt" in note and "(quoted;" in note and "medical necessity rests on" in note
    assert not any(r.startswith("MTUS Drug List") for r in naproxen["reasons"])  # not encoded: nothing said
