"""The learned parts of decision support, with scikit-learn's fit/predict_proba conventions.

``OverturnModel`` estimates how likely an expert reviewer is to overturn a UR decision: a logistic
regression on a few knowledge-based inputs (what the guideline criteria decide, how many treatments
the application disputes, partial authorization by UR, perioperative service, limits exceeded, "not
recommended", the guideline-support score), optionally with the TF-IDF terms of the summary's
sentences about the utilization review. ``SelectedOverturnModel`` chooses among a small set of such
candidates, and the recommendation policy (what criteria all met do when p_overturn says the
item is more likely upheld), by letter-grouped cross-validation on its training rows only: it is
what ``openimr train`` fits and what ``openimr eval`` runs inside each outer fold.
``FamilyModel`` learns which guideline family reviewers cite from the request and the candidate
MTUS rules.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import ClassVar, NamedTuple

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from openimr.core.models import ReasonCode
from openimr.core.review.assessment import Policy

# The knowledge-based inputs of the overturn model (``assessment.rule_features`` names them), besides
# ``neg_log_items``: -log(treatments the application disputes), a perioperative service counted
# with its operation.
KNOWLEDGE_FEATURES = (
    "assessed_upheld",
    "assessed_overturned",
    "partial_authorization",
    "perioperative",
    "limits_unmet",
    "not_recommended",
    "support",
)
_UR_SENTENCE = re.compile(r"utilization review|non-?certif|modified|denied|\bUR\b|approved|certified", re.I)
# Numbers in the UR sentences are read by shape only ("12/21/2016" -> "n2/n2/n4"): the way dates
# are written says something about the record, the day itself nothing.
_DIGITS = re.compile(r"\d+")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")

# The candidates ``SelectedOverturnModel`` chooses among: knowledge-only, and knowledge + the UR
# sentences' TF-IDF terms, each over three L2 strengths (scikit-learn's C: larger is weaker).
CANDIDATES: tuple[dict, ...] = tuple(
    {"text": text, "C": c} for text in (False, True) for c in (0.1, 1.0, 10.0)
)


def ur_sentences(summary: str) -> str:
    """The summary's sentences about the utilization review: what it did and why."""
    return " ".join(s for s in _SENTENCE_SPLIT.split(summary or "") if _UR_SENTENCE.search(s))


@dataclass(frozen=True)
class ItemInput:
    """What the learned models see of one disputed item."""

    text: str
    features: dict[str, float]
    family_features: dict[str, float]
    reason_features: dict[str, float] = field(default_factory=dict)


class OverturnModel(ClassifierMixin, BaseEstimator):
    """p(Overturned) for disputed items: a logistic regression (L2 strength ``C``) on the
    standardized :data:`KNOWLEDGE_FEATURES` and -log(treatments disputed), with ``text`` also the
    TF-IDF terms of the UR sentences. How p_overturn becomes a recommendation is the
    :class:`~openimr.core.review.assessment.Policy`'s, never a cut below 0.5."""

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "text": ["boolean"],
    }

    def __init__(self, C: float = 1.0, text: bool = False) -> None:
        self.C = C
        self.text = text

    @staticmethod
    def _knowledge(items: Sequence[ItemInput]) -> np.ndarray:
        rows = [[i.features.get(k, 0.0) for k in KNOWLEDGE_FEATURES] for i in items]
        log_items = np.log([max(i.features.get("case_items", 1.0), 1.0) for i in items])
        return np.column_stack([np.asarray(rows, dtype=float).reshape(len(items), -1), -log_items])

    def _matrix(self, items: Sequence[ItemInput], fit: bool) -> csr_matrix:
        knowledge = self._knowledge(items)
        if fit:
            self.scale_ = StandardScaler().fit(knowledge)
        parts = [csr_matrix(self.scale_.transform(knowledge))]
        if self.text:
            texts = [_DIGITS.sub(lambda m: f"n{len(m.group())}", i.text) for i in items]
            if fit:
                self.text_ = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(texts)
            parts.append(self.text_.transform(texts))
        return hstack(parts).tocsr()

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, items: Sequence[ItemInput], y: Sequence[bool]):
        """Fit on items and their labels (True = Overturned); ``InvalidParameterError`` for
        hyperparameters out of range."""
        labels = np.asarray(y, dtype=bool)
        self.lr_ = LogisticRegression(C=self.C, max_iter=5000).fit(self._matrix(items, fit=True), labels)
        self.classes_ = self.lr_.classes_
        return self

    def predict_proba(self, items: Sequence[ItemInput]) -> np.ndarray:
        """Columns: p(Upheld), p(Overturned); ``NotFittedError`` before :meth:`fit`."""
        check_is_fitted(self)
        return self.lr_.predict_proba(self._matrix(items, fit=False))

    def predict(self, items: Sequence[ItemInput]) -> np.ndarray:
        """True where an overturn is the likelier outcome."""
        return self.predict_proba(items)[:, 1] >= 0.5


def _standard_error(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


# The recommendation policies the selection chooses among, the most cautious first.
POLICIES = (Policy(criteria_overturn="likelier"), Policy(criteria_overturn="stand"))


def lift(recommended: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the recommendations made minus always-Upheld's on the same items (0 when none is
    made). *recommended*: 1 Overturned, 0 Upheld, -1 none. It reduces to (right - wrong Overturned
    recommendations) / recommendations made: Upheld ones only dilute it."""
    made = recommended >= 0
    if not made.any():
        return 0.0
    over = recommended == 1
    return float((over & labels).sum() - (over & ~labels).sum()) / float(made.sum())


def recommendations(policy: Policy, items: Sequence[ItemInput], probs: np.ndarray) -> np.ndarray:
    """What *policy* recommends (1 Overturned, 0 Upheld, -1 none) from the criteria's decision as
    the overturn model's inputs carry it (the best MTUS rule's, ``assessed_*``) and p_overturn;
    the engine's own path is :func:`openimr.core.review.assessment.decide`."""
    out = np.zeros(len(probs), dtype=int)
    for k, (item, p) in enumerate(zip(items, probs, strict=True)):
        if item.features.get("assessed_upheld"):
            out[k] = 0
        elif item.features.get("assessed_overturned"):
            out[k] = 1 if policy.criteria_overturn == "stand" or p >= policy.cut else -1
        else:
            out[k] = int(p >= policy.cut)
    return out


def _lift_per_fold(
    policy: Policy, items: list[ItemInput], oof: np.ndarray, labels: np.ndarray, splits: list
) -> dict:
    folds = np.asarray(
        [
            lift(recommendations(policy, [items[i] for i in test], oof[test]), labels[test])
            for _, test in splits
        ]
    )
    return {"lift": float(folds.mean()), "lift_se": _standard_error(folds)}


class SelectedOverturnModel(ClassifierMixin, BaseEstimator):
    """The :class:`OverturnModel` chosen by letter-grouped cross-validation on the training rows.

    Each of ``candidates`` (``OverturnModel`` parameters; :data:`CANDIDATES` by default) is scored
    by its mean log-loss over ``folds`` folds grouped by letter (``groups``), the letters shuffled
    by ``random_state``; the first (the list runs from the simplest) within one standard error of
    the lowest wins: the one-standard-error rule, so a gain below the folds' spread is noise. The
    recommendation policy is then chosen on the winner's out-of-fold probabilities by the same rule
    over each fold's lift over always-Upheld (:data:`POLICIES`, the most cautious first).
    ``best_estimator_`` is the winner refitted on every row, ``policy_`` the chosen policy;
    ``chosen_`` their parameters, ``cv_results_`` every candidate's mean log-loss and
    ``policy_results_`` every policy's mean lift.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "candidates": [list, tuple, None],
        "folds": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self, candidates: Sequence[dict] | None = None, folds: int = 5, random_state: int | None = 0
    ) -> None:
        self.candidates = candidates
        self.folds = folds
        self.random_state = random_state

    def _out_of_fold(self, params: dict, items: list[ItemInput], labels: np.ndarray, splits: list) -> tuple:
        oof, losses = np.zeros(len(labels)), []
        for train, test in splits:
            model = OverturnModel(**params).fit([items[i] for i in train], labels[train])
            oof[test] = model.predict_proba([items[i] for i in test])[:, 1]
            losses.append(log_loss(labels[test], oof[test], labels=[False, True]))
        return oof, np.asarray(losses)

    # Nested validation kept (as in GridSearchCV): each candidate's parameters are checked.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, items: Sequence[ItemInput], y: Sequence[bool], groups: Sequence[int] | None = None):
        """Choose and fit on items, their labels (True = Overturned) and their letters (*groups*;
        each item its own letter when None); ``ValueError`` when a fold's training rows hold only
        one decision."""
        items, labels = list(items), np.asarray(y, dtype=bool)
        groups = np.arange(len(labels)) if groups is None else np.asarray(groups)
        splits = list(
            GroupKFold(self.folds, shuffle=True, random_state=self.random_state).split(labels, labels, groups)
        )
        if any(len(np.unique(labels[train])) < 2 for train, _ in splits):
            raise ValueError(
                f"a training set of the {self.folds}-fold selection holds only one decision: "
                "too few letters or overturns for so many folds"
            )
        candidates = list(CANDIDATES if self.candidates is None else self.candidates)
        results = [(params, *self._out_of_fold(params, items, labels, splits)) for params in candidates]
        self.cv_results_ = [
            {"params": dict(p), "log_loss": float(loss.mean()), "log_loss_se": _standard_error(loss)}
            for p, _, loss in results
        ]
        # The one-standard-error rule: the simplest candidate within one standard error of the
        # best mean log-loss wins, so a gain smaller than the folds' spread never buys complexity.
        lowest = min(self.cv_results_, key=lambda r: r["log_loss"])
        bar = lowest["log_loss"] + lowest["log_loss_se"]
        best, oof, _ = next(r for r, c in zip(results, self.cv_results_, strict=True) if c["log_loss"] <= bar)
        self.policy_results_ = [
            {"policy": policy, **_lift_per_fold(policy, items, oof, labels, splits)} for policy in POLICIES
        ]
        top = max(self.policy_results_, key=lambda r: r["lift"])
        policy = next(r["policy"] for r in self.policy_results_ if r["lift"] >= top["lift"] - top["lift_se"])
        self.best_estimator_ = OverturnModel(**best).fit(items, labels)
        self.policy_ = policy
        self.chosen_ = {**best, "policy": policy.criteria_overturn}
        self.classes_ = self.best_estimator_.classes_
        return self

    def predict_proba(self, items: Sequence[ItemInput]) -> np.ndarray:
        """Columns: p(Upheld), p(Overturned) of the chosen model; ``NotFittedError`` before :meth:`fit`."""
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(items)

    def predict(self, items: Sequence[ItemInput]) -> np.ndarray:
        """True where an overturn is the likelier outcome."""
        return self.predict_proba(items)[:, 1] >= 0.5


class FamilyModel(ClassifierMixin, BaseEstimator):
    """The guideline family a reviewer would cite, from the request and its candidate rules."""

    _parameter_constraints: ClassVar[dict[str, list]] = {"C": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, items: Sequence[ItemInput], families: Sequence[str]):
        """Fit on items and the families their reviewers cited."""
        self.vec_ = DictVectorizer()
        x = self.vec_.fit_transform([i.family_features for i in items])
        self.lr_ = LogisticRegression(C=self.C, max_iter=5000).fit(x, list(families))
        self.classes_ = self.lr_.classes_
        return self

    def predict_proba(self, items: Sequence[ItemInput]) -> np.ndarray:
        """One column per family in ``classes_``; ``NotFittedError`` before :meth:`fit`."""
        check_is_fitted(self)
        return self.lr_.predict_proba(self.vec_.transform([i.family_features for i in items]))

    def predict(self, items: Sequence[ItemInput]) -> np.ndarray:
        """The likeliest family of each item."""
        proba = self.predict_proba(items)
        return self.classes_[np.argmax(proba, axis=1)]


def _undecided(item: ItemInput) -> bool:
    """Whether the criteria (as the inputs carry them) decide nothing: where a reason is predicted."""
    return not (item.features.get("assessed_upheld") or item.features.get("assessed_overturned"))


def _category(item: ItemInput) -> str:
    return next((k.split("=", 1)[1] for k in item.reason_features if k.startswith("category=")), "other")


class ReasonPrior(BaseEstimator):
    """The likeliest Upheld reason for a kind of request (its request category): the commonest
    labelled reason of the category's upheld items when it has at least ``min_count`` of them,
    else the commonest overall."""

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "min_count": [Interval(Integral, 1, None, closed="left")]
    }

    def __init__(self, min_count: int = 3) -> None:
        self.min_count = min_count

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, items: Sequence[ItemInput], reasons: Sequence[ReasonCode]):
        """Fit on upheld items and their labelled reasons."""
        counts: dict[str, Counter[ReasonCode]] = {}
        for item, reason in zip(items, reasons, strict=True):
            counts.setdefault(_category(item), Counter())[reason] += 1
        overall = sum(counts.values(), Counter())
        self.default_ = overall.most_common(1)[0][0] if overall else ReasonCode.INDICATIONS_NOT_DOCUMENTED
        self.table_ = {c: n.most_common(1)[0][0] for c, n in counts.items() if n.total() >= self.min_count}
        return self

    def predict(self, items: Sequence[ItemInput]) -> list[ReasonCode]:
        """The likeliest Upheld reason of each item; ``NotFittedError`` before :meth:`fit`."""
        check_is_fitted(self)
        return [self.table_.get(_category(i), self.default_) for i in items]


class ReasonLR(BaseEstimator):
    """The likeliest Upheld reason from how the record reads (:func:`~openimr.core.review.analysis.
    reason_features`): a multinomial logistic regression of L2 strength ``C``."""

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def fit(self, items: Sequence[ItemInput], reasons: Sequence[ReasonCode]):
        self.vec_ = DictVectorizer()
        x = self.vec_.fit_transform([i.reason_features for i in items])
        labels = [str(r) for r in reasons]
        self.constant_ = labels[0] if len(set(labels)) == 1 else None
        if self.constant_ is None:
            self.lr_ = LogisticRegression(C=self.C, max_iter=5000).fit(x, labels)
        return self

    def predict(self, items: Sequence[ItemInput]) -> list[ReasonCode]:
        check_is_fitted(self, "vec_")
        if self.constant_ is not None:
            return [ReasonCode(self.constant_)] * len(items)
        return [
            ReasonCode(r) for r in self.lr_.predict(self.vec_.transform([i.reason_features for i in items]))
        ]


# The decisive-reason candidates, the simplest first: the request category's commonest reason, or
# a logistic regression on how the record reads, over three L2 strengths.
REASON_CANDIDATES: tuple[dict, ...] = (
    {"model": "prior"},
    *({"model": "lr", "C": c} for c in (0.3, 1.0, 3.0)),
)


class ReasonModel(BaseEstimator):
    """The Upheld reason of an item whose criteria decide nothing, chosen among
    :data:`REASON_CANDIDATES` by letter-grouped cross-validated accuracy on the held-out rows the
    criteria do not decide (where it is used), with the one-standard-error rule (``chosen_``,
    ``cv_results_``), refitted on every row."""

    def __init__(self, folds: int = 5, random_state: int | None = 0) -> None:
        self.folds = folds
        self.random_state = random_state

    @staticmethod
    def _make(params: dict) -> ReasonPrior | ReasonLR:
        return ReasonPrior() if params["model"] == "prior" else ReasonLR(C=params["C"])

    def fit(
        self, items: Sequence[ItemInput], reasons: Sequence[ReasonCode], groups: Sequence[int] | None = None
    ):
        """Choose and fit on upheld items, their labelled reasons and their letters (*groups*)."""
        items, reasons = list(items), list(reasons)
        groups_ = np.arange(len(items)) if groups is None else np.asarray(groups)
        folds = min(self.folds, len(set(groups_.tolist())))
        results = []
        if folds >= 2:
            splits = list(
                GroupKFold(folds, shuffle=True, random_state=self.random_state).split(items, groups=groups_)
            )
            for params in REASON_CANDIDATES:
                accuracy = []
                for train, test in splits:
                    model = self._make(params).fit([items[i] for i in train], [reasons[i] for i in train])
                    scored = [i for i in test if _undecided(items[i])] or list(test)
                    got = model.predict([items[i] for i in scored])
                    accuracy.append(np.mean([g == reasons[i] for g, i in zip(got, scored, strict=True)]))
                results.append(
                    {
                        "params": params,
                        "accuracy": float(np.mean(accuracy)),
                        "se": _standard_error(np.asarray(accuracy)),
                    }
                )
        self.cv_results_ = results
        if results:
            best = max(results, key=lambda r: r["accuracy"])
            self.chosen_ = next(
                r["params"] for r in results if r["accuracy"] >= best["accuracy"] - best["se"]
            )
        else:
            self.chosen_ = REASON_CANDIDATES[0]
        self.model_ = self._make(self.chosen_).fit(items, reasons) if items else ReasonPrior().fit([], [])
        return self

    def predict(self, items: Sequence[ItemInput]) -> list[ReasonCode]:
        """The likeliest Upheld reason of each item; ``NotFittedError`` before :meth:`fit`."""
        check_is_fitted(self, "model_")
        return self.model_.predict(items)


class Models(NamedTuple):
    """The fitted parts of the review engine: the overturn model (chosen by cross-validation when
    fitted, the chosen one as shipped), the guideline-family model, the Upheld-reason prior and the
    recommendation policy (chosen with the overturn model)."""

    overturn: OverturnModel | SelectedOverturnModel
    family: FamilyModel
    reasons: ReasonModel
    policy: Policy = Policy()
