"""``openimr eval``: nested, letter-grouped cross-validation of the review engine beside baselines.

The protocol, fixed before any result was looked at: ``repeats`` times (seeds 0, 1, ...), the
letters are shuffled and split into ``folds`` groups (no letter in both train and test); on each
outer training set the models are fitted as ``openimr train`` fits them (the overturn model chosen
by an inner letter-grouped cross-validation on those rows only, :class:`SelectedOverturnModel`),
and each test letter is reviewed as the engine reviews it: p_overturn, the guideline family, the
governing rule's criteria, and the per-case guideline assessment (``decide``) with the fold's
statistical recommendation and reason prior. Every figure is pooled over the items of one repeat,
then given as mean and sd over the repeats; the baselines run on the same folds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import GroupKFold
from threadpoolctl import threadpool_limits

from openimr.core.guidelines.rules import Rule
from openimr.core.models import Decision, ReasonCode
from openimr.core.review.analysis import ItemAnalysis, with_rule
from openimr.core.review.assessment import Recommended
from openimr.core.review.engine import judge_case
from openimr.core.review.model import lift
from openimr.core.review.rationale import draft_rationale, unsupported_findings
from openimr.core.review.train import Examples, fit

# The figures of the recommendations made, as score_review.py gives them.
RECOMMENDATION_METRICS = (
    "lift",
    "overturned_precision",
    "overturned_made",
    "upheld_precision",
    "coverage",
    "unsupported",
    "contradictions",
)
METRICS = (
    *RECOMMENDATION_METRICS,
    "auc",
    "f1",
    "precision",
    "recall",
    "ece",
    "brier",
    "family_top1",
    "reason_accuracy",
    "stated_reason",
    "guideline_share",
    "guideline_agreement",
    "rule_share",
)
ENGINE = "engine"
TFIDF = "TF-IDF + LR (item + summary)"
UPHELD = "always Upheld"
LAST_ROUND = "last round's cut"
MAJORITY = "majority decisive code"
UR_FAMILY = "UR's guideline family"
ITEMS_ALONE = "-log(items disputed) alone"
SUPPORT_ALONE = "guideline-support score alone"


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """ECE over equal-width probability bins (the last bin closed at 1)."""
    index = np.minimum((probs * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.mean() * abs(probs[mask].mean() - labels[mask].mean())
    return float(total)


def _auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else None


def _overturn_scores(probs: np.ndarray | None, pred: np.ndarray, labels: np.ndarray) -> dict:
    """AUC, ECE and Brier of *probs* (None for a method without them), F1/P/R of *pred*."""
    return {
        "auc": None if probs is None else _auc(labels, probs),
        "f1": float(f1_score(labels, pred, zero_division=0.0)),
        "precision": float(precision_score(labels, pred, zero_division=0.0)),
        "recall": float(recall_score(labels, pred, zero_division=0.0)),
        "ece": None if probs is None else expected_calibration_error(probs, labels),
        "brier": None if probs is None else float(brier_score_loss(labels, probs)),
    }


def _reason_scores(data: Examples, codes: Sequence[ReasonCode | None]) -> tuple[dict, dict]:
    """Decisive-reason accuracy and "a stated reason" share over the labelled items, and per-code
    recall (by labelled code), as score_review.py counts them."""
    labelled = [i for i, r in enumerate(data.reasons) if r is not None]
    if not labelled:
        return {"reason_accuracy": None, "stated_reason": None}, {}
    hit = [codes[i] == data.reasons[i] for i in labelled]
    stated = [h or codes[i] in data.also[i] for h, i in zip(hit, labelled, strict=True)]
    per_code: dict[str, list[bool]] = {}
    for h, i in zip(hit, labelled, strict=True):
        per_code.setdefault(str(data.reasons[i]), []).append(h)
    figures = {"reason_accuracy": float(np.mean(hit)), "stated_reason": float(np.mean(stated))}
    return figures, {code: float(np.mean(h)) for code, h in per_code.items()}


def recommendation_scores(done: Sequence[Recommended], labels: np.ndarray) -> dict:
    """Figures of the recommendations made, as score_review.py gives them: lift over always-Upheld
    on the same items, the precision of each recommendation, how many were Overturned, and the share
    of items with one."""
    made = np.array(
        [-1 if d.recommendation is None else int(d.recommendation is Decision.OVERTURNED) for d in done]
    )
    over, upheld = made == 1, made == 0
    return {
        "lift": lift(made, labels),
        "overturned_precision": float((over & labels).sum() / over.sum()) if over.any() else None,
        "overturned_made": float(over.sum()),
        "upheld_precision": float((upheld & ~labels).sum() / upheld.sum()) if upheld.any() else None,
        "coverage": float((made >= 0).mean()),
    }


def contradictions(done: Recommended) -> int:
    """What score_review.py counts against an item: a guideline-basis recommendation against its
    criteria (Overturned with a criterion against it, Upheld with every criterion met), and a
    decisive reason whose direction is not the recommendation's."""
    crit = done.analysis.criteria
    count = 0
    if done.basis == "guideline" and crit:
        against = [
            c
            for c in crit
            if (c.kind == "limit" and c.status == "unmet")
            or (c.kind != "limit" and c.role == "required" and c.status in ("unmet", "not_documented"))
        ]
        overturned = done.recommendation is Decision.OVERTURNED
        count += (overturned and bool(against)) or (not overturned and all(c.status == "met" for c in crit))
    if done.decisive is None or done.recommendation is None:
        return count
    return count + (done.decisive.code.decision is not done.recommendation)


def outer_splits(groups: Sequence[int], folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """One repeat's outer splits: *folds* folds over the letters, shuffled by *seed*."""
    g = np.asarray(groups)
    return list(GroupKFold(folds, shuffle=True, random_state=seed).split(g, g, g))


class FoldReviewer:
    """Reviews test letters as the engine does, with models fitted on the training rows."""

    def __init__(self, data: Examples) -> None:
        self.data = data
        self._governed: dict[tuple[int, str | None], ItemAnalysis] = {}

    def _analysis(self, row: int, rule: Rule | None) -> ItemAnalysis:
        key = (row, rule.id if rule else None)
        if key not in self._governed:
            self._governed[key] = with_rule(self.data.analyses[row], rule, self.data.facts[row])
        return self._governed[key]

    def fold(self, train: np.ndarray, test: np.ndarray) -> dict:
        """The fitted models' p_overturn, family, recommendation and decisive reason of each test
        row (each letter reviewed by :func:`~openimr.core.review.engine.judge_case`), and the
        overturn model's inner choice."""
        data = self.data
        models = fit(data, [int(i) for i in train])
        out: dict = {
            "p": {},
            "family": {},
            "done": {},
            "rule": {},
            "unsupported": {},
            "chosen": models.overturn.chosen_,
        }
        test_rows = sorted(int(i) for i in test)
        for letter in sorted({data.groups[i] for i in test_rows}):
            rows = [i for i in test_rows if data.groups[i] == letter]
            judged = judge_case(
                [data.analyses[i] for i in rows],
                [data.inputs[i] for i in rows],
                models,
                lambda k, rule, rows=rows: self._analysis(rows[k], rule),
            )
            for i, (p, g, done) in zip(rows, judged, strict=True):
                out["p"][i], out["family"][i], out["done"][i], out["rule"][i] = p, g.family, done, g.rule
                label = done.decisive.label if done.decisive else None
                draft = draft_rationale(done, g, p)
                out["unsupported"][i] = bool(unsupported_findings(draft, done.analysis.criteria, label))
        return out


def _tfidf(data: Examples, labels: np.ndarray, train: np.ndarray, test: np.ndarray) -> tuple:
    """TF-IDF + logistic regression on item + summary, its cut the training overturn rate."""
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    model = LogisticRegression(max_iter=5000).fit(
        vec.fit_transform([data.texts[i] for i in train]), labels[train]
    )
    p = model.predict_proba(vec.transform([data.texts[i] for i in test]))[:, 1]
    return p, p >= labels[train].mean()


def _repeat(data: Examples, reviewer: FoldReviewer, seed: int, folds: int, step: Callable[[], None]) -> dict:
    """Every method's figures pooled over one repeat's outer folds."""
    labels = np.asarray(data.overturned, dtype=bool)
    n = len(labels)
    p, rec = np.zeros(n), np.zeros(n, dtype=bool)
    family_ok, done_of, ruled = np.zeros(n, dtype=bool), {}, np.zeros(n, dtype=bool)
    unsupported = np.zeros(n, dtype=bool)
    tfidf_p, tfidf_rec, rate_p = np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n)
    majority: list[ReasonCode | None] = [None] * n
    chosen = []
    for train, test in outer_splits(data.groups, folds, seed):
        got = reviewer.fold(train, test)
        chosen.append(got["chosen"])
        for i in test:
            done = got["done"][i]
            p[i], rec[i], done_of[i] = got["p"][i], done.recommendation is Decision.OVERTURNED, done
            family_ok[i], ruled[i] = got["family"][i] == data.families[i], got["rule"][i] is not None
            unsupported[i] = got["unsupported"][i]
        tfidf_p[test], tfidf_rec[test] = _tfidf(data, labels, train, test)
        rate_p[test] = labels[train].mean()
        counts = Counter(data.reasons[i] for i in train if data.reasons[i] is not None)
        for i in test:
            majority[i] = counts.most_common(1)[0][0] if counts else None
        step()
    known = np.array([f is not None for f in data.families])
    done = [done_of[i] for i in range(n)]
    # The last round's policy on the same folds: criteria met always Overturned, and otherwise
    # Overturned from the training overturn rate up.
    last = np.array(
        [
            int(d.recommendation is Decision.OVERTURNED)
            if d.basis == "guideline"
            else int(d.basis == "none" or p[i] >= rate_p[i])
            for i, d in enumerate(done)
        ]
    )
    guideline = np.array([d.basis == "guideline" for d in done])
    reasons, per_code = _reason_scores(data, [d.decisive.code if d.decisive else None for d in done])
    engine = {
        **recommendation_scores(done, labels),
        "unsupported": float(unsupported.sum()),
        **_overturn_scores(p, rec, labels),
        "family_top1": float(family_ok[known].mean()) if known.any() else None,
        **reasons,
        "guideline_share": float(guideline.mean()),
        "guideline_agreement": float((rec == labels)[guideline].mean()) if guideline.any() else None,
        "rule_share": float(ruled.mean()),
        "contradictions": float(sum(contradictions(d) for d in done)),
    }
    claims_ok = np.array([c == f for c, f in zip(data.claims_families, data.families, strict=True)])
    majority_reasons, majority_per_code = _reason_scores(data, majority)
    case_items = np.array([i.features.get("case_items", 1.0) for i in data.inputs])
    support = np.array([i.features.get("support", 0.0) for i in data.inputs])
    return {
        "figures": {
            ENGINE: engine,
            TFIDF: _overturn_scores(tfidf_p, tfidf_rec, labels),
            LAST_ROUND: {
                "lift": lift(last, labels),
                "overturned_precision": float((last & labels).sum() / max(last.sum(), 1)),
                "overturned_made": float(last.sum()),
                "coverage": 1.0,
            },
            UPHELD: {
                **_overturn_scores(rate_p, np.zeros(n, dtype=bool), labels),
                "auc": None,
                "lift": 0.0,
                "coverage": 1.0,
                "upheld_precision": float(1 - labels.mean()),
            },
            MAJORITY: majority_reasons,
            UR_FAMILY: {"family_top1": float(claims_ok[known].mean()) if known.any() else None},
            ITEMS_ALONE: {"auc": _auc(labels, -np.log(np.maximum(case_items, 1.0)))},
            SUPPORT_ALONE: {"auc": _auc(labels, support)},
        },
        "per_code_recall": {ENGINE: per_code, MAJORITY: majority_per_code},
        "chosen": chosen,
    }


def _summary(values: list[float | None]) -> dict | None:
    got = [v for v in values if v is not None]
    if not got:
        return None
    return {"mean": float(np.mean(got)), "sd": float(np.std(got, ddof=1)) if len(got) > 1 else 0.0}


def choice_label(chosen: dict) -> str:
    """A readable name of an inner-loop choice."""
    inputs = "knowledge + UR TF-IDF" if chosen["text"] else "knowledge only"
    return f"{inputs}, C={chosen['C']:g}, criteria met: {chosen['policy']}"


def nested_cross_validate(
    data: Examples, folds: int = 5, repeats: int = 10, step: Callable[[], None] | None = None
) -> dict:
    """The protocol of the module's docstring: per method and figure its mean and sd over the
    repeats (None where the method has no such figure), per-code recall of the decisive reason,
    how often the inner loop chose each candidate, and each repeat's figures. *step* is called
    after each outer fold."""
    reviewer = FoldReviewer(data)
    with threadpool_limits(1):
        runs = [_repeat(data, reviewer, seed, folds, step or (lambda: None)) for seed in range(repeats)]
    figures = {
        m: {
            k: _summary([r["figures"][m].get(k) for r in runs]) for k in METRICS if k in runs[0]["figures"][m]
        }
        for m in runs[0]["figures"]
    }
    per_code = {
        m: {
            code: _summary([r["per_code_recall"][m].get(code) for r in runs])
            for code in sorted(runs[0]["per_code_recall"][m])
        }
        for m in runs[0]["per_code_recall"]
    }
    labelled = Counter(str(r) for r in data.reasons if r is not None)
    choices = Counter(choice_label(c) for r in runs for c in r["chosen"])
    return {
        "letters": len(set(data.groups)),
        "items": len(data.inputs),
        "overturned": int(sum(data.overturned)),
        "folds": folds,
        "repeats": repeats,
        "figures": figures,
        "per_code_recall": per_code,
        "labelled_codes": dict(labelled.most_common()),
        "inner_choices": dict(choices.most_common()),
        "runs": [r["figures"] for r in runs],
    }
