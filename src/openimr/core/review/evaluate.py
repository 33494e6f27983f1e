"""``openimr eval``: letter-grouped cross-validation of the review engine beside baselines.

Every figure is computed in one run on the same folds: no letter is in both train and test.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import GroupKFold

from openimr.core.review.analysis import follow_operations
from openimr.core.review.train import Examples, fit

METRICS = ("auc", "f1", "precision", "recall", "balanced_accuracy", "family_top1", "ece", "brier")


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """ECE over equal-width probability bins (the last bin closed at 1)."""
    index = np.minimum((probs * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.mean() * abs(probs[mask].mean() - labels[mask].mean())
    return float(total)


def scores(probs: np.ndarray, pred: np.ndarray, labels: np.ndarray, family_ok: float | None) -> dict:
    """The issue's figures for one method."""
    return {
        "auc": float(roc_auc_score(labels, probs)) if 0 < labels.sum() < len(labels) else float("nan"),
        "f1": float(f1_score(labels, pred, zero_division=0.0)),
        "precision": float(precision_score(labels, pred, zero_division=0.0)),
        "recall": float(recall_score(labels, pred, zero_division=0.0)),
        "balanced_accuracy": float(balanced_accuracy_score(labels, pred)),
        "family_top1": family_ok,
        "ece": expected_calibration_error(probs, labels),
        "brier": float(brier_score_loss(labels, probs)),
    }


def _tfidf_fold(texts: list[str], labels: np.ndarray, train, test) -> tuple:
    """TF-IDF + logistic regression on item + summary, its cut the training overturn rate like the
    engine's."""
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    model = LogisticRegression(max_iter=5000).fit(vec.fit_transform([texts[i] for i in train]), labels[train])
    return model.predict_proba(vec.transform([texts[i] for i in test]))[:, 1], float(labels[train].mean())


def cross_validate(data: Examples, folds: int = 5, seed: int = 0) -> dict[str, dict]:
    """Grouped cross-validated figures for the engine and the three baselines."""
    labels = np.asarray(data.overturned, dtype=bool)
    groups = np.asarray(data.groups)
    order = np.random.RandomState(seed).permutation(groups.max() + 1)[groups]
    n = len(labels)
    engine_p, engine_pred = np.zeros(n), np.zeros(n, dtype=bool)
    tfidf_p, tfidf_pred = np.zeros(n), np.zeros(n, dtype=bool)
    family_hit = np.zeros(n, dtype=bool)
    for train, test in GroupKFold(folds).split(labels, groups=order):
        models = fit(data, list(train))
        overturn, family = models.overturn, models.family
        inputs = [data.inputs[i] for i in test]
        position = {row: k for k, row in enumerate(test)}
        served = [None if data.operations[i] is None else position[data.operations[i]] for i in test]
        engine_p[test] = follow_operations(overturn.predict_proba(inputs)[:, 1], served)
        engine_pred[test] = overturn.recommend(engine_p[test])
        family_hit[test] = family.predict(inputs) == np.array([data.families[i] for i in test], dtype=object)
        p, cut = _tfidf_fold(data.texts, labels, train, test)
        tfidf_p[test], tfidf_pred[test] = p, p >= cut
    known = np.array([f is not None for f in data.families])
    claims_hit = np.array([c == f for c, f in zip(data.claims_families, data.families, strict=True)])
    base_rate = np.full(n, labels.mean())
    return {
        "engine": scores(engine_p, engine_pred, labels, float(family_hit[known].mean())),
        "always Upheld": scores(base_rate, np.zeros(n, dtype=bool), labels, None),
        "TF-IDF + LR (item + summary)": scores(tfidf_p, tfidf_pred, labels, None),
        "cite the claims administrator's guideline": {
            **dict.fromkeys(METRICS),
            "family_top1": float(claims_hit[known].mean()),
        },
    }
