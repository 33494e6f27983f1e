"""The review engine: schema of its output, criteria, bad input, and the shipped models (the models' own
tests and the cross-validated figures are in test_evaluate.py)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from openimr.cli import app
from openimr.cli.review import read_case
from openimr.core.case import Application, Case, CaseError, DisputedItem, case_from_letter
from openimr.core.models import Letter
from openimr.core.review.analysis import support_score
from openimr.core.review.criteria import Criterion, Evidence
from openimr.core.review.engine import load_models, review_case
from openimr.core.review.train import REASONS_FILE, examples, fit, load_reasons, load_records
from openimr.services.app import OpenIMR
from openimr.store.db import make_engine, migrate
from openimr.store.ingest import store_letter

SUMMARY = (
    "The injured worker is a 48 year old woman who hurt her low back lifting boxes on 10-01-2016. "
    "She has not had acupuncture before. Pain is rated 7/10. She had 6 sessions of physical therapy "
    "without functional improvement. Utilization review on 11-20-2016 denied the request."
)


def case(*items: str, summary: str = SUMMARY) -> Case:
    return Case(
        case_number="CM99-0000002",
        clinical_summary=summary,
        ur_denial_date="2016-11-20",
        disputed_items=[DisputedItem(item=i) for i in items],
    )


@pytest.fixture(scope="module")
def review_schema(schemas_dir: Path) -> dict:
    review = json.loads((schemas_dir / "review.schema.json").read_text())
    request = json.loads((schemas_dir / "request.schema.json").read_text())
    review["properties"]["items"]["items"]["properties"]["request"] = request
    return review


def test_review_matches_the_schema_and_keeps_item_order(review_schema: dict) -> None:
    review = review_case(case("Acupuncture 2 times a week for 6 weeks", "Norco 10/325mg #90", "Viagra 50mg"))
    data = review.model_dump(mode="json")
    jsonschema.validate(data, review_schema)
    items = ["Acupuncture 2 times a week for 6 weeks", "Norco 10/325mg #90", "Viagra 50mg"]
    assert [i["item"] for i in data["items"]] == items
    assert all(0 <= i["p_overturn"] <= 1 for i in data["items"])


def test_acupuncture_visits_are_checked_against_the_trial_limit() -> None:
    over, within = review_case(case("Acupuncture 2 times a week for 6 weeks", "Acupuncture 6 sessions")).items
    limit = [c for c in over.criteria if c.criterion == "time_to_effect_visits"]
    assert limit and limit[0].status == "unmet" and "12" in limit[0].detail
    assert [c.status for c in within.criteria if c.criterion == "time_to_effect_visits"] == ["met"]
    assert over.guideline.family.startswith("MTUS Acupuncture")
    assert over.guideline.citation and "9792.24.1" in over.guideline.citation
    assert "9792.24.1" in (over.draft_rationale or "")


def test_an_item_no_rule_addresses_says_so_and_invents_no_limit() -> None:
    (item,) = review_case(case("Viagra 50mg #10")).items
    assert any("no encoded rule addresses this item" in r for r in item.reasons)
    assert not [c for c in item.criteria if c.kind == "limit"]


def test_a_2026_item_names_the_mtus_chapter_in_force_and_says_its_criteria_are_not_encoded() -> None:
    summary = (
        "A 48 year old woman hurt her low back lifting boxes on 01-05-2026. Pain is rated 7/10. "
        "Utilization review on 03-02-2026 denied the request."
    )
    dated = Case(
        case_number="CM99-0000003",
        clinical_summary=summary,
        ur_denial_date="2026-03-02",
        disputed_items=[
            DisputedItem(item="Physical therapy 2 times a week for 6 weeks for the lumbar spine"),
            DisputedItem(item="Naproxen 550mg #60"),
        ],
    )
    pt, nsaid = review_case(dated).items
    assert (
        "Low Back Disorders (ACOEM February 13, 2020) (8 CCR 9792.23.5) governs this item; "
        "its criteria are not encoded, so none was checked"
    ) in pt.reasons
    assert any(
        r.startswith("Chronic Pain Guideline: medications (8 CCR 9792.24.2) governs") for r in nsaid.reasons
    )
    # No limit of the 2016 guidelines is applied in 2026; the statutory visit cap is.
    assert [c.rule_id for c in pt.criteria] == ["lc4604.5-visit-cap"] and not nsaid.criteria
    # The family model learned from 2016-2017 letters: a chapter adopted since is chosen by the
    # hierarchy, so the governing guideline is the chapter in force, never an older family.
    assert pt.guideline.rule and pt.guideline.citation and "9792.23.5" in pt.guideline.citation
    assert pt.guideline.family.startswith("MTUS") and nsaid.guideline.family.startswith("MTUS")
    assert pt.basis == nsaid.basis == "statistical"


def test_negated_functional_improvement_is_not_improvement() -> None:
    (item,) = review_case(case("Additional physical therapy 2 times a week for 4 weeks, low back")).items
    fi = [c for c in item.criteria if c.criterion == "documented_functional_improvement"]
    assert fi and fi[0].status == "unmet"
    start = SUMMARY.index("without functional improvement") + len("without ")
    assert fi[0].evidence == (Evidence(text="functional improvement", start=start, end=start + 22),)


def test_missing_fields_empty_summary_and_unparseable_item_still_get_a_review() -> None:
    review = review_case(Case(disputed_items=[DisputedItem(item="zzqx !!"), DisputedItem()]))
    first, second = review.items
    assert any("no clinical summary" in r for r in first.reasons)
    assert any("could not be classified" in r for r in first.reasons)
    assert any("has no text" in r for r in second.reasons)
    assert first.request["category"] == "other"


def test_cli_reviews_good_files_and_names_the_bad_one(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(case("MRI of the lumbar spine").model_dump_json())
    bad = tmp_path / "bad.json"
    bad.write_text('{"clinical_summary": "x", ')
    result = CliRunner().invoke(app, ["review", str(bad), str(good), "--format", "jsonl"])
    assert result.exit_code == 1
    assert f"{bad}: invalid JSON" in result.stderr
    assert [json.loads(line)["case_number"] for line in result.stdout.splitlines()] == ["CM99-0000002"]
    text = CliRunner().invoke(app, ["review", str(good), "--format", "text"])
    assert text.exit_code == 0 and "recommendation:" in text.stdout and "draft rationale:" in text.stdout


def test_a_case_of_the_wrong_shape_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(CaseError, match="must be a JSON object"):
        read_case(path)


def test_a_file_that_is_not_a_case_is_refused(tmp_path: Path) -> None:
    foreign, letter = tmp_path / "foreign.json", tmp_path / "letter.json"
    foreign.write_text('{"foo": 1}')
    letter.write_text(
        json.dumps({"case_number": "CM99-0000009", "issues": [{"item": "x", "decision": "Upheld"}]})
    )
    result = CliRunner().invoke(app, ["review", str(foreign), str(letter)])
    assert result.exit_code == 1 and result.stdout == ""
    assert f"{foreign}: not a case: a case lists its disputed items under 'disputed_items'" in result.stderr
    assert f"{letter}: a letter record, not a case" in result.stderr


def test_one_case_model_with_the_application_as_its_strict_form() -> None:
    assert issubclass(Application, Case) and Application.model_fields.keys() == Case.model_fields.keys()
    submitted = {
        "application_received": "2016-12-01",
        "ur_denial_date": "2016-11-20",
        "clinical_summary": SUMMARY,
        "parties": [{"role": "requesting_provider", "name": "Dr. Lee", "specialty": "Pain Medicine"}],
        "disputed_items": [{"item": "Acupuncture 6 sessions"}],
    }
    application = Application.model_validate(submitted)
    assert application.ur_decision_date == Case.model_validate(submitted).ur_decision_date
    assert application.priority == "Standard" and application.specialty_of_condition() == "Pain Medicine"
    assert [i.recommendation for i in review_case(application).items] == [
        i.recommendation for i in review_case(Case.model_validate(submitted)).items
    ]
    # What review accepts and intake refuses.
    for missing in ("application_received", "ur_denial_date", "clinical_summary"):
        assert Case.model_validate({k: v for k, v in submitted.items() if k != missing})
        with pytest.raises(ValidationError, match=missing.replace("ur_denial_date", "ur_decision_date")):
            Application.model_validate({k: v for k, v in submitted.items() if k != missing})
    for changes in ({"disputed_items": []}, {"disputed_items": [{"item": ""}]}, {"unknown": 1}):
        assert Case.model_validate(submitted | changes)
        with pytest.raises(ValidationError):
            Application.model_validate(submitted | changes)


@pytest.fixture(scope="module")
def dev_examples(gold_path: Path):
    return examples(load_records(gold_path), load_reasons(gold_path.parent / REASONS_FILE))


def criterion(role: str, status: str, kind: str = "condition") -> Criterion:
    return Criterion(rule_id="r", criterion="c", label="c", kind=kind, role=role, status=status, detail="")


@pytest.mark.parametrize(
    ("criteria", "score"),
    [
        ([], 0.0),
        ([criterion("required", "met"), criterion("required", "not_documented")], 0.0),
        ([criterion("required", "met"), criterion("required", "not_assessed")], 1.0),
        ([criterion("required", "unmet", kind="limit")], -2.0),
        ([criterion("required", "met", kind="limit"), criterion("supporting", "met")], 1.0),
        ([criterion("required", "unmet", kind="recommendation")], -3.0),
        ([criterion("any_of", "not_documented"), criterion("any_of", "met")], 1.0),
        ([criterion("any_of", "not_documented"), criterion("any_of", "not_assessed")], -1.0),
    ],
)
def test_support_score_weighs_each_criterion_result(criteria: list[Criterion], score: float) -> None:
    assert support_score(criteria) == score


def test_a_perioperative_service_follows_its_disputed_operation() -> None:
    items = review_case(
        case(
            "Right shoulder arthroscopy with subacromial decompression",
            "Associated surgical service: cold therapy unit for 7 days",
            "Pre-op labs: CBC",
            "Naproxen 550mg #60",
        )
    ).items
    operation, cold, labs, naproxen = items
    for service in (cold, labs):
        assert service.p_overturn == operation.p_overturn
        (c,) = [c for c in service.criteria if c.criterion == "operation_needed"]
        assert "arthroscopy" in c.detail
        assert c.status == ("met" if operation.recommendation == "Overturned" else "unmet")
        if operation.recommendation == "Upheld":
            assert service.recommendation == "Upheld"
            assert service.decisive_reason and service.decisive_reason.code == "associated_with_denied"
            assert "the operation this service is for" in (service.draft_rationale or "").lower()
        assert any("disputed operation" in r for r in service.reasons)
    others = naproxen.criteria + operation.criteria
    assert not [c for c in others if c.criterion == "operation_needed"]


def test_an_assistant_and_labs_for_an_operation_follow_it_and_are_not_operations_themselves() -> None:
    knee, assist, labs = review_case(
        case("Right knee arthroscopy with meniscectomy", "PA assist", "Labs to include: EKG")
    ).items
    assert assist.p_overturn == labs.p_overturn == knee.p_overturn
    (c,) = [c for c in assist.criteria if c.criterion == "operation_needed"]
    assert "meniscectomy" in c.detail


def test_a_perioperative_service_without_a_disputed_operation_is_supported_and_counted_with_it() -> None:
    alone = review_case(case("Pre-op labs: CBC", "Pre-op chest x-ray", "Post-op Norco 5/325mg #30")).items
    for item in alone:
        (c,) = [c for c in item.criteria if c.criterion == "operation_needed"]
        assert c.status == "met"
    # Post-operative therapy on its own follows an operation long done: no operation criterion.
    (therapy,) = review_case(case("Post-operative physical therapy 2 times a week for 6 weeks")).items
    assert not [c for c in therapy.criteria if c.criterion == "operation_needed"]
    # Three services for one operation weigh as one treatment, not as a crowded application.
    (single,) = review_case(case("Pre-op labs: CBC")).items
    assert alone[0].p_overturn == pytest.approx(single.p_overturn)
    (crowded,) = [
        i
        for i in review_case(case("Pre-op labs: CBC", "Norco 10/325mg #90", "Soma 350mg #30")).items
        if i.item == "Pre-op labs: CBC"
    ]
    assert crowded.p_overturn < single.p_overturn


def test_the_shipped_model_is_the_one_train_builds(dev_examples, gold_path: Path) -> None:
    shipped_overturn, shipped_family, shipped_reasons, shipped_policy = load_models()
    models = fit(dev_examples)
    chosen, family = models.overturn.best_estimator_, models.family
    assert models.reasons.chosen_ == shipped_reasons.chosen_
    assert chosen.get_params() == shipped_overturn.get_params()
    sample = dev_examples.inputs[::7]
    assert chosen.predict_proba(sample) == pytest.approx(shipped_overturn.predict_proba(sample), abs=1e-4)
    assert list(family.predict(sample)) == list(shipped_family.predict(sample))
    assert models.reasons.predict(sample) == shipped_reasons.predict(sample)
    assert models.policy == shipped_policy


def test_dev_letters_review_in_order_through_the_cli(gold_path: Path, tmp_path: Path) -> None:
    records = load_records(gold_path)[:5]
    paths = []
    for k, record in enumerate(records):
        path = tmp_path / f"case{k}.json"
        path.write_text(case_from_letter(record).model_dump_json())
        paths.append(str(path))
    result = CliRunner().invoke(app, ["review", *paths])
    assert result.exit_code == 0, result.stderr
    reviews = [json.loads(line) for line in result.stdout.splitlines()]
    assert [len(r["items"]) for r in reviews] == [len(r["issues"]) for r in records]


def test_similar_past_decisions_come_from_the_store_and_leave_out_the_case_itself(
    gold_path: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate(url)
    records = load_records(gold_path)
    engine = make_engine(url)
    with engine.begin() as conn:
        for k, record in enumerate(records):
            store_letter(conn, Letter.model_validate(record), f"h{k}")
    engine.dispose()
    own = next(r for r in records if r["case_number"] and any("MRI" in i["item"] for i in r["issues"]))
    application = OpenIMR.open(url)
    review = application.review(case_from_letter(own))
    application.close()
    mri = next(i for i in review.items if "MRI" in i.item)
    assert len(mri.similar) == 10
    assert own["case_number"] not in {d.letter for d in mri.similar}
    assert all(d.decision in ("Upheld", "Overturned") for d in mri.similar)
    assert any(r.startswith("similar past decisions:") for r in mri.reasons)
    assert review_case(case_from_letter(own)).items[0].similar == []
    # Precedents beside the criteria: count, overturned share with its Wilson interval, and the
    # commonest stated reasons, each quoted with its case.
    p = mri.precedents
    assert p is not None and p.count == 25 and p.low <= p.share <= p.high
    assert p.overturned == sum(d.decision == "Overturned" for d in mri.similar) or p.count > len(mri.similar)
    assert p.reasons and all(r.quote and r.letter != own["case_number"] for r in p.reasons)
    assert [r.count for r in p.reasons] == sorted((r.count for r in p.reasons), reverse=True)
    assert review_case(case_from_letter(own)).items[0].precedents is None


def test_review_with_rules_reviews_with_that_file_and_a_bad_file_is_one_line(tmp_path: Path) -> None:
    import yaml

    packaged = Path(__file__).parents[1] / "src/openimr/core/guidelines/mtus.yaml"
    data = yaml.safe_load(packaged.read_text())
    rule = next(r for r in data["rules"] if r["id"] == "acupuncture-9792.24.1")
    rule["limits"][0]["max"] = 12  # a draft that allows twelve visits to show an effect
    draft = tmp_path / "draft.yaml"
    draft.write_text(yaml.safe_dump(data, sort_keys=False))
    path = tmp_path / "case.json"
    path.write_text(case("Acupuncture 2 times a week for 6 weeks").model_dump_json())

    def visits(*extra: str) -> list[str]:
        result = CliRunner().invoke(app, ["review", str(path), *extra])
        assert result.exit_code == 0, result.output
        (item,) = json.loads(result.stdout)["items"]
        return [c["status"] for c in item["criteria"] if c["criterion"] == "time_to_effect_visits"]

    assert visits() == ["unmet"]  # the packaged rules: at most 6
    assert visits("--rules", str(draft)) == ["met"]
    assert visits() == ["unmet"]  # the draft was in force for that review only
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [\n")
    result = CliRunner().invoke(app, ["review", str(path), "--rules", str(broken)])
    assert result.exit_code == 1 and str(broken) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
