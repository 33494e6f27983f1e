"""``openimr guidelines list|show|check|quotes`` and ``openimr formulary``: shipped data, crafted files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from openimr.cli import app
from openimr.core.facts.models import Fact, Facts
from openimr.core.guidelines import load_rules
from openimr.core.guidelines.rules import LimitKind
from openimr.core.models import Issue, Letter
from openimr.core.requests.model import Drug, Request
from openimr.core.review.criteria import EVALUATED_LIMITS, NOT_READ, evaluate
from openimr.store.db import make_engine, migrate
from openimr.store.ingest import store_letter

RULES = Path(__file__).parents[1] / "src/openimr/core/guidelines/mtus.yaml"


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), prog_name="openimr", env=env)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def crafted(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(RULES.read_text())
    mutate(data)
    path = tmp_path / "draft.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _rule(data: dict, rule_id: str) -> dict:
    return next(r for r in data["rules"] if r["id"] == rule_id)


# ---------------------------------------------------------------- list and show


def test_list_jsonl_gives_every_rule_with_its_limits_verification_status():
    result = run("guidelines", "list", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in lines(result.stdout)]
    assert [r["id"] for r in rows] == [r.id for r in load_rules().rules]
    statuses = set()
    for row in rows:
        assert isinstance(row, dict) and isinstance(row["limits"], list)
        assert row["family"] and row["citation"]["regulation"] and "from" in row["effective"]
        statuses |= {lim["verification"]["status"] for lim in row["limits"]}
        for lim in row["limits"]:
            if lim["verification"]["status"] == "quoted":
                assert len({q["case_number"] for q in lim["verification"]["quotes"]}) >= 2, row["id"]
    assert statuses == {"verified", "quoted"}


def test_list_by_date_keeps_only_the_rules_in_force():
    result = run("guidelines", "list", "--date", "2026-06-01", "--format", "jsonl")
    ids = [json.loads(line)["id"] for line in lines(result.stdout)]
    assert "acoem-low-back-2020" in ids and "cpmtg-massage" not in ids
    assert "acupuncture-low-back-acoem-2016" not in ids  # replaced by the 2019 Low Back update
    old = [
        json.loads(line)["id"]
        for line in lines(run("guidelines", "list", "-d", "2016-06-01", "-f", "jsonl").stdout)
    ]
    assert "cpmtg-massage" in old and "acupuncture-low-back-acoem-2016" not in old
    assert "acoem-low-back-2020" not in old
    mid = [
        json.loads(line)["id"]
        for line in lines(run("guidelines", "list", "-d", "2018-06-01", "-f", "jsonl").stdout)
    ]
    assert "acupuncture-low-back-acoem-2016" in mid and "acoem-low-back-2020" not in mid
    table = run("guidelines", "list", "--date", "2026-06-01")
    assert (
        table.exit_code == 0
        and "acupuncture-9792.24.1" in table.stdout
        and "cpmtg-massage" not in table.stdout
    )


def test_list_reports_quoted_limits_of_a_rules_file(tmp_path):
    def quote(data):
        _rule(data, "cpmtg-massage")["limits"][0]["verification"] = {
            "status": "quoted",
            "source": "odg_document",
            "locator": "decisions",
            "evidence": "crafted for the test",
            "quotes": [{"case_number": c, "text": "four to six visits"} for c in ("CM01", "CM02")],
        }

    path = crafted(tmp_path, quote)
    rows = [
        json.loads(line)
        for line in lines(run("guidelines", "list", "-f", "jsonl", "--rules", str(path)).stdout)
    ]
    massage = next(r for r in rows if r["id"] == "cpmtg-massage")
    assert massage["limits"][0]["verification"]["status"] == "quoted"
    env_rows = lines(run("guidelines", "list", "-f", "jsonl", env={"OPENIMR_RULES": str(path)}).stdout)
    assert '"quoted"' in next(line for line in env_rows if '"cpmtg-massage"' in line)


def test_a_bad_date_or_rules_file_is_one_line_naming_it(tmp_path):
    bad = run("guidelines", "list", "--date", "2026-02-30")
    assert bad.exit_code == 2 and lines(bad.stderr) == [
        "error: --date: '2026-02-30' is not a date (use YYYY-MM-DD)"
    ]
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [")
    result = run("guidelines", "check", "--rules", str(broken))
    assert result.exit_code == 1 and len(lines(result.stderr)) == 1
    assert result.stderr.startswith(f"error: {broken}: not valid YAML at line 1, column 9")
    missing = run("guidelines", "list", "--rules", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 1 and lines(missing.stderr)[0].startswith(
        f"error: {tmp_path / 'nope.yaml'}: cannot read"
    )


def test_show_prints_one_rule_in_full():
    result = run("guidelines", "show", "acupuncture-9792.24.1")
    assert result.exit_code == 0
    text = result.stdout
    assert text.startswith("acupuncture-9792.24.1: ")
    assert "citation: 8 CCR 9792.24.1" in text
    assert "limit time_to_effect_visits: 3-6 (quoted)" in text
    assert 'quoted in CM16-0242419: "3 to 6 treatments"' in text
    assert "limit frequency_per_week: 1-3 (quoted)" in text
    chapter = run("guidelines", "show", "acoem-low-back-2020").stdout
    assert "in force: 2021-11-23 to open" in chapter and "criteria: not encoded" in chapter


def test_show_an_unknown_rule_is_a_one_line_error_naming_it():
    result = run("guidelines", "show", "cpmtg-massag")
    assert result.exit_code == 1 and result.stdout == ""
    assert lines(result.stderr) == ["error: no rule 'cpmtg-massag' (did you mean 'cpmtg-massage'?)"]


# ---------------------------------------------------------------- check


def test_every_limit_kind_yields_a_criterion_and_the_unread_ones_say_why():
    """A rule holding one limit of any kind yields a limit criterion for some visit or drug request;
    the kinds in NOT_READ (what ``guidelines check`` flags) are never compared, only reported."""
    base = next(r for r in load_rules().rules if r.id == "acupuncture-9792.24.1")
    prior = Fact(kind="prior_therapy", value="acupuncture", number=6, start=0, end=5, snippet="6 acupuncture")
    cases = [
        (
            Request(category="acupuncture", sessions=6, frequency_per_week=2, duration_weeks=3),
            Facts(),
        ),
        (Request(category="acupuncture", sessions=6), Facts(facts=[prior])),
        (Request(category="drug", drug=Drug(name="Norco", drug_class="opioid")), Facts()),
    ]
    for kind in LimitKind:
        limit = base.limits[0].model_copy(update={"kind": kind, "min": None, "max": 1.0})
        rule = base.model_copy(update={"limits": (limit,), "conditions": ()})
        found = [c for request, facts in cases for c in evaluate(rule, request, facts) if c.kind == "limit"]
        assert found, kind
        if kind in NOT_READ:
            assert all(c.status == "not_assessed" and c.detail for c in found), kind
    assert EVALUATED_LIMITS.isdisjoint(NOT_READ) and EVALUATED_LIMITS | set(NOT_READ) == set(LimitKind)


def test_check_on_the_shipped_rules_finds_no_problem():
    result = run("guidelines", "check")
    rules = load_rules()
    count = sum(len(r.limits) for r in rules.rules)
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == [f"ok: {len(rules.rules)} rules, {count} limits, version {rules.version}"]


def test_check_flags_an_overlap_an_unevaluated_kind_and_a_sourceless_citation(tmp_path):
    def spoil(data):
        data["rules"] = [_rule(data, "cpmtg-massage"), _rule(data, "lc4604.5-visit-cap")]
        twin = copy.deepcopy(_rule(data, "cpmtg-massage")) | {"id": "cpmtg-massage-draft"}
        twin["effective"] = {"from": "2017-01-01"}
        data["rules"].append(twin)
        cap = _rule(data, "lc4604.5-visit-cap")
        cap["limits"].append(dict(cap["limits"][0], kind="pain_relief_percent"))
        data["conditions"]["adjunct_to_active_therapy"]["citation"] = "8 CCR 9792.24.2"
        data["conditions"]["adjunct_to_active_therapy"].pop("source", None)
        data["sources"]["a_blog"] = {"title": "A blog post", "kind": "secondary"}
        _rule(data, "cpmtg-massage")["verification"]["source"] = "a_blog"

    path = crafted(tmp_path, spoil)
    result = run("guidelines", "check", "--rules", str(path))
    assert result.exit_code == 1
    assert lines(result.stdout) == [
        "rule 'cpmtg-massage' overlaps rule 'cpmtg-massage-draft' (MTUS Chronic Pain Medical Treatment"
        " Guidelines, same scope): both in force 2017-01-01 to 2017-11-30",
        "rule 'lc4604.5-visit-cap': limit kind 'pain_relief_percent' is not evaluated by the review engine",
        "condition 'adjunct_to_active_therapy': citation '8 CCR 9792.24.2' has no source",
        "rule 'cpmtg-massage': cited source 'a_blog' (secondary) has no URL",
    ]
    assert lines(result.stderr) == [f"error: 4 problems in {path}"]


def test_check_passes_a_clean_file_with_a_summary(tmp_path):
    def clean(data):
        data["rules"] = [_rule(data, "lc4604.5-visit-cap"), _rule(data, "acupuncture-9792.24.1")]

    result = run("guidelines", "check", "--rules", str(crafted(tmp_path, clean)))
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == [f"ok: 2 rules, 4 limits, version {load_rules().version}"]


# ---------------------------------------------------------------- quotes


STATEMENT = "3 to 6 treatments"


def _store(tmp_path: Path, rationales: dict[str, str]) -> str:
    """A store holding one letter per case number, each with one issue of the given rationale."""
    url = f"sqlite:///{tmp_path / 'letters.db'}"
    migrate(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        for k, (case, rationale) in enumerate(rationales.items()):
            issue = Issue(item="Acupuncture x 12", decision="Upheld", rationale=rationale)
            store_letter(conn, Letter(file=f"{case}.txt", case_number=case, issues=[issue]), f"h{k}")
    engine.dispose()
    return url


def test_quotes_groups_by_rule_what_two_or_more_stored_decisions_quote(tmp_path):
    url = _store(
        tmp_path,
        {
            "CM26-0000001": f"Per the MTUS, an effect takes {STATEMENT} for acupuncture. Twelve exceed it.",
            "CM26-0000002": f"Acupuncture guidelines say effect takes {STATEMENT}; 10 were asked for.",
            "CM26-0000003": "Acupuncture guidelines allow 7 to 9 treatments over 5 weeks for this worker.",
        },
    )
    result = run("guidelines", "quotes", "--db", url, "--format", "jsonl")
    assert result.exit_code == 0, result.output
    rows = {row["rule"]: row["quotes"] for row in map(json.loads, lines(result.stdout))}
    acupuncture = {q["text"]: q["case_numbers"] for q in rows["acupuncture-9792.24.1"]}
    assert acupuncture[STATEMENT] == ["CM26-0000001", "CM26-0000002"]
    assert not any("7 to 9" in q["text"] for quotes in rows.values() for q in quotes)
    assert "3 rationales from 3 decisions read" in result.stderr
    table = run("guidelines", "quotes", "--db", url)
    assert table.exit_code == 0 and "acupuncture-9792.24.1" in table.stdout


def test_quotes_reruns_on_another_corpus_and_needs_two_decisions(tmp_path):
    (tmp_path / "b").mkdir()
    url = _store(tmp_path / "b", {"CM26-0000009": f"Acupuncture guidelines allow {STATEMENT}."})
    result = run("guidelines", "quotes", "--db", url, "--format", "jsonl")
    assert result.exit_code == 0 and result.stdout == ""
    assert "0 statements quoted by 2+ decisions; 1 rationales from 1 decisions read" in result.stderr


def test_quotes_on_a_missing_store_is_one_line(tmp_path):
    result = run("guidelines", "quotes", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert result.exit_code == 1 and len(lines(result.stderr)) == 1
    assert "none.db: no such store" in result.stderr and not (tmp_path / "none.db").exists()


# ---------------------------------------------------------------- formulary


def test_formulary_json_gives_status_version_dates_and_source():
    result = run("formulary", "tramadol", "--date", "2026-06-01", "--format", "json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["status"] == "non-exempt" and answer["list_version"] == "v.13"
    assert answer["effective_from"] == "2018-01-01" and answer["source_url"].startswith("https://")
    assert any("prospective review" in c for c in answer["conditions"])


@pytest.mark.parametrize(
    ("drug", "date", "status"),
    [
        ("Cymbalta 30mg", "2021-01-01", "exempt"),
        ("naproxen", "2026-06-01", "not encoded"),
        ("tramadol", "2017-06-01", "not in force"),
    ],
)
def test_formulary_table_names_the_status(drug, date, status):
    result = run("formulary", drug, "--date", date)
    assert result.exit_code == 0
    assert any(
        line.split("│")[1:3] and line.split("│")[2].strip() == status
        for line in result.stdout.splitlines()
        if "status" in line
    )


def test_formulary_exits_2_for_a_name_that_is_no_drug():
    result = run("formulary", "xyzzy", "--date", "2026-06-01", "--format", "json")
    assert result.exit_code == 2 and result.stdout == ""
    assert lines(result.stderr) == ["error: 'xyzzy' is not a drug name the drug dictionary can read"]


def test_formulary_json_answers_a_combination_ingredient_by_ingredient():
    result = run("formulary", "Percocet 5/325", "--date", "2026-06-01", "--format", "json")
    answer = json.loads(result.stdout)
    assert [i["ingredient"] for i in answer["ingredients"]] == ["oxycodone", "acetaminophen"]
    assert answer["ingredients"][0]["status"] == "non-exempt"


def test_definitions_lists_each_term_with_its_citation_and_status():
    result = run("guidelines", "definitions", "--format", "jsonl")
    rows = {r["id"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert rows["functional_improvement"]["citation"].startswith("8 CCR 9792.20(e)")
    assert {r["verification"]["status"] for r in rows.values()} == {"verified"}
