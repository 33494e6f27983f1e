"""The overturn model, its selection by letter-grouped cross-validation, and ``openimr eval``'s
nested cross-validation beside the baselines."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError
from typer.testing import CliRunner

from openimr.cli import app
from openimr.core.review.evaluate import (
    ENGINE,
    LAST_ROUND,
    MAJORITY,
    TFIDF,
    UPHELD,
    UR_FAMILY,
    FoldReviewer,
    nested_cross_validate,
    outer_splits,
)
from openimr.core.review.model import (
    POLICIES,
    FamilyModel,
    ItemInput,
    OverturnModel,
    ReasonModel,
    SelectedOverturnModel,
    lift,
    recommendations,
)
from openimr.core.review.train import REASONS_FILE, examples, load_reasons, load_records


@pytest.fixture(scope="module")
def dev_examples(gold_path: Path):
    return examples(load_records(gold_path), load_reasons(gold_path.parent / REASONS_FILE))


def item(support: float = 0.0, case_items: float = 1.0, text: str = "utilization review denied") -> ItemInput:
    return ItemInput(text, {"support": support, "case_items": case_items}, {"f": 1.0})


def _items(n: int) -> list[ItemInput]:
    return [item(k % 2, 1 + k % 3, f"utilization review denied {k % 3}") for k in range(n)]


def test_the_knowledge_inputs_move_p_overturn_the_way_the_training_rows_do() -> None:
    # Overturned items have support and few disputed treatments; upheld ones neither.
    train = [item(1, 1), item(1, 2)] * 10 + [item(-1, 4), item(-1, 3), item(0, 6)] * 10
    labels = [True, True] * 10 + [False, False, False] * 10
    model = OverturnModel().fit(train, labels)
    p = model.predict_proba([item(-2, 1), item(0, 1), item(2, 1), item(2, 8)])[:, 1]
    assert p[0] < p[1] < p[2]
    assert p[3] < p[2]


@pytest.mark.parametrize(
    ("model", "parameter"),
    [
        (OverturnModel(C=-1), "'C' parameter"),
        (OverturnModel(C=0), "'C' parameter"),
        (OverturnModel(text="yes"), "'text' parameter"),
        (SelectedOverturnModel(folds=1), "'folds' parameter"),
        (SelectedOverturnModel(candidates="all"), "'candidates' parameter"),
        (SelectedOverturnModel(random_state="seed"), "'random_state' parameter"),
        (SelectedOverturnModel(candidates=[{"C": -1.0}], folds=2), "'C' parameter"),
        (FamilyModel(C=-1), "'C' parameter"),
    ],
)
def test_hyperparameters_out_of_range_are_refused_at_fit(model, parameter: str) -> None:
    with pytest.raises(InvalidParameterError, match=parameter):
        model.fit(_items(12), [True, False] * 6)


@pytest.mark.parametrize("model", [OverturnModel(), SelectedOverturnModel(), FamilyModel()])
def test_an_unfitted_model_says_so(model) -> None:
    with pytest.raises(NotFittedError, match=f"This {type(model).__name__} instance is not fitted yet"):
        model.predict(_items(2))
    with pytest.raises(NotFittedError):
        model.predict_proba(_items(2))


def test_lift_counts_only_the_overturned_recommendations_against_always_upheld() -> None:
    labels = np.array([True, False, False, True, False])
    # Two right Overturned, one wrong, two Upheld: (2 - 1) / 5 made.
    assert lift(np.array([1, 1, 0, 1, 0]), labels) == pytest.approx(-0.2 + 0.4)
    assert lift(np.array([0, 0, 0, 0, 0]), labels) == 0.0
    assert lift(np.array([-1, -1, -1, -1, -1]), labels) == 0.0
    assert lift(np.array([1, -1, -1, -1, -1]), labels) == 1.0  # one made, right


def test_no_policy_recommends_overturned_below_even_odds_without_the_criteria() -> None:
    undecided, met = item(), ItemInput("", {"assessed_overturned": 1.0}, {})
    for policy in POLICIES:
        assert list(recommendations(policy, [undecided] * 3, np.array([0.2, 0.49, 0.5]))) == [0, 0, 1]
    cautious, standing = POLICIES
    assert list(recommendations(cautious, [met, met], np.array([0.3, 0.7]))) == [-1, 1]
    assert list(recommendations(standing, [met, met], np.array([0.3, 0.7]))) == [1, 1]
    with pytest.raises(ValueError, match=r"at least 0\.5"):
        replace(cautious, cut=0.3)


def test_the_selection_is_the_simplest_within_one_standard_error_and_refits_it(dev_examples) -> None:
    data = dev_examples
    model = SelectedOverturnModel().fit(data.inputs, data.overturned, data.groups)
    results = model.cv_results_
    lowest = min(results, key=lambda r: r["log_loss"])
    assert lowest["log_loss_se"] > 0
    within = [r for r in results if r["log_loss"] <= lowest["log_loss"] + lowest["log_loss_se"]]
    best = within[0]["params"]  # the candidates run from the simplest
    assert {k: model.chosen_[k] for k in best} == best
    assert model.best_estimator_.get_params()["C"] == best["C"]
    top = max(model.policy_results_, key=lambda r: r["lift"])
    first = next(r for r in model.policy_results_ if r["lift"] >= top["lift"] - top["lift_se"])
    assert model.policy_ == first["policy"] and model.chosen_["policy"] == first["policy"].criteria_overturn
    p = model.predict_proba(data.inputs)[:, 1]
    assert list(model.predict(data.inputs)) == list(p >= 0.5)


def test_a_folds_selection_never_sees_its_test_letters(dev_examples) -> None:
    data = dev_examples
    train, test = outer_splits(data.groups, 5, seed=3)[2]
    flipped = list(data.overturned)
    for i in test:
        flipped[i] = not flipped[i]
    got = FoldReviewer(data).fold(train, test)
    other = FoldReviewer(replace(data, overturned=flipped)).fold(train, test)
    # Test labels flipped: the fold's choice and every prediction for its test rows are unchanged ...
    assert got["chosen"] == other["chosen"]
    assert [got["p"][i] for i in test] == [other["p"][i] for i in test]
    assert [got["done"][i].recommendation for i in test] == [other["done"][i].recommendation for i in test]
    # ... and the choice is reproduced from the training rows alone.
    alone = SelectedOverturnModel().fit(
        [data.inputs[i] for i in train], [data.overturned[i] for i in train], [data.groups[i] for i in train]
    )
    assert alone.chosen_ == got["chosen"]
    assert not {data.groups[i] for i in train} & {data.groups[i] for i in test}


def test_repeated_splits_differ_and_give_a_spread(dev_examples, gold_path: Path) -> None:
    first, second = (outer_splits(dev_examples.groups, 5, seed) for seed in (0, 1))
    assert [list(t) for _, t in first] != [list(t) for _, t in second]
    for splits in (first, second):
        tests = np.concatenate([t for _, t in splits])
        assert sorted(tests) == list(range(len(dev_examples.groups)))
    records = load_records(gold_path)[:40]
    small = examples(records, load_reasons(gold_path.parent / REASONS_FILE))
    results = nested_cross_validate(small, folds=3, repeats=3)
    assert len(results["runs"]) == 3
    assert results["figures"][ENGINE]["auc"]["sd"] > 0
    assert sum(results["inner_choices"].values()) == 9


def test_eval_prints_every_figure_beside_the_baselines(gold_path: Path, tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(gold_path.read_text().splitlines(keepends=True)[:30]))
    shutil.copy(gold_path.parent / REASONS_FILE, tmp_path / REASONS_FILE)
    result = CliRunner().invoke(app, ["eval", str(gold), "--repeats", "2", "--folds", "3"])
    assert result.exit_code == 0, result.output
    for shown in (ENGINE, TFIDF, UPHELD, MAJORITY, UR_FAMILY, "reason_accuracy", "stated_reason"):
        assert shown in result.stdout
    for shown in ("guideline_share", "guideline_agreement", "rule_share", "contradictions", " ± "):
        assert shown in result.stdout
    assert "per-code recall" in result.stdout and "inner-loop choice" in result.stdout
    as_json = CliRunner().invoke(
        app, ["eval", str(gold), "--repeats", "2", "--folds", "3", "--format", "json"]
    )
    figures = json.loads(as_json.stdout)
    assert figures["repeats"] == 2 and len(figures["runs"]) == 2
    assert figures["figures"][ENGINE]["contradictions"] == {"mean": 0.0, "sd": 0.0}


def test_too_few_overturns_for_the_folds_is_a_clear_error(gold_path: Path, tmp_path: Path) -> None:
    upheld = [r for r in load_records(gold_path) if all(i["decision"] == "Upheld" for i in r["issues"])]
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps(r) + "\n" for r in upheld[:10]))
    result = CliRunner().invoke(app, ["eval", str(gold), "--repeats", "1", "--folds", "2"])
    assert result.exit_code == 2
    assert "holds only one decision" in result.stderr and "Traceback" not in result.output


def test_nested_cross_validated_figures_on_dev(dev_examples) -> None:
    # Three repeats of the protocol (seeds 0-2). The floors are the 10-repeat figures of
    # `openimr eval` on the dev letters (mean ± sd over 10 repeats), less about 2 sd, and the issue's
    # goals where those are higher: lift over always-Upheld +0.006 ± 0.009 (goal >= 0), Overturned
    # precision 0.583 ± 0.261 on 4.2 ± 3.7 Overturned, never one below p_overturn 0.5 (the last
    # round's cut: lift -0.052 ± 0.010, precision 0.354 on 45.3), Upheld precision 0.931 ± 0.002,
    # coverage 0.931 ± 0.015, unsupported findings 0, AUC 0.815 ± 0.069, ECE 0.034 ± 0.007, Brier
    # 0.078 ± 0.007, family top-1 0.854 ± 0.011, decisive reason 0.456 ± 0.015, a stated reason
    # 0.573 ± 0.017, guideline basis 0.576 ± 0.018 of the items with 0.922 ± 0.004 agreement, an
    # encoded rule 0.921 ± 0.008; TF-IDF + LR AUC 0.594 ± 0.076, majority code 0.255 ± 0.026, UR's
    # family 0.593, always Upheld Brier 0.099 ± 0.001.
    figures = nested_cross_validate(dev_examples, repeats=3)["figures"]
    engine = {k: v["mean"] for k, v in figures[ENGINE].items() if v is not None}
    assert engine["contradictions"] == 0 and engine["unsupported"] == 0
    assert engine["lift"] >= 0.0 and engine["lift"] > figures[LAST_ROUND]["lift"]["mean"]
    assert engine["overturned_precision"] >= 0.5 and engine["overturned_made"] >= 3
    assert engine["coverage"] >= 0.9
    assert engine["auc"] >= 0.68
    assert engine["ece"] <= 0.05
    assert engine["brier"] <= 0.092
    assert engine["family_top1"] >= 0.82
    assert engine["reason_accuracy"] >= 0.42
    assert engine["stated_reason"] >= 0.53
    assert engine["guideline_share"] >= 0.55 and engine["guideline_agreement"] >= 0.9
    assert engine["rule_share"] >= 0.90
    assert engine["auc"] > figures[TFIDF]["auc"]["mean"]
    assert engine["brier"] < figures[UPHELD]["brier"]["mean"]
    assert engine["reason_accuracy"] > figures[MAJORITY]["reason_accuracy"]["mean"]
    assert engine["family_top1"] > figures[UR_FAMILY]["family_top1"]["mean"]


def test_the_reason_model_is_the_simplest_within_one_standard_error(dev_examples) -> None:
    data = dev_examples
    upheld = [i for i, r in enumerate(data.reasons) if r is not None and not data.overturned[i]]
    model = ReasonModel().fit(
        [data.inputs[i] for i in upheld], [data.reasons[i] for i in upheld], [data.groups[i] for i in upheld]
    )
    best = max(model.cv_results_, key=lambda r: r["accuracy"])
    first = next(r for r in model.cv_results_ if r["accuracy"] >= best["accuracy"] - best["se"])
    assert model.chosen_ == first["params"] and model.cv_results_[0]["params"] == {"model": "prior"}
    got = model.predict(data.inputs[:20])
    assert all(code.decision.value == "Upheld" for code in got)
    # One letter: nothing to cross-validate, so the simplest candidate.
    one = ReasonModel().fit(
        [data.inputs[i] for i in upheld[:3]], [data.reasons[i] for i in upheld[:3]], [0, 0, 0]
    )
    assert one.chosen_ == {"model": "prior"}
