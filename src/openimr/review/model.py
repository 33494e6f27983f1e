"""The learned parts of decision support, with scikit-learn's fit/predict_proba conventions.

``OverturnModel`` estimates how likely an expert reviewer is to overturn a UR decision. A logistic
regression reads the summary's sentences about the utilization review (what UR did and why) as
TF-IDF terms, plus a few rule results (limits exceeded, "not recommended", partial authorization)
with small weight. Its score is then shifted by two knowledge-based terms whose weights are chosen
by letter-grouped cross-validation (never fitted as free coefficients, which overfit 100 letters):
the guideline-support score of the criteria results, and how many treatments the application disputes
(applications disputing many have them overturned less often; a perioperative service counts with its
operation, not on its own). ``FamilyModel`` learns
which guideline family reviewers cite from the request and the candidate MTUS rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix, hstack
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

# Rule results the overturn model weighs besides the text (all are 0/1 or counts).
RULE_FEATURES = ("limits_unmet", "not_recommended", "partial_authorization")
_UR_SENTENCE = re.compile(r"utilization review|non-?certif|modified|denied|\bUR\b|approved|certified", re.I)
# Numbers in the UR sentences are read by shape only ("12/21/2016" -> "n2/n2/n4"): the way dates
# are written says something about the record, the day itself nothing. Raw digits gave 0.02 more
# cross-validated AUC on the dev letters, all from days of the month shared by chance.
_DIGITS = re.compile(r"\d+")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")


def ur_sentences(summary: str) -> str:
    """The summary's sentences about the utilization review: what it did and why."""
    return " ".join(s for s in _SENTENCE_SPLIT.split(summary or "") if _UR_SENTENCE.search(s))


@dataclass(frozen=True)
class ItemInput:
    """What the learned models see of one disputed item."""

    text: str
    features: dict[str, float]
    family_features: dict[str, float]


class OverturnModel(ClassifierMixin, BaseEstimator):
    """p(Overturned) for disputed items; ``threshold_`` turns it into a recommendation.

    The logistic regression's score is shifted by ``support_weight`` x the guideline-support score
    and ``-items_weight`` x log(treatments the application disputes); both weights are hyperparameters
    chosen by letter-grouped cross-validation on the dev letters (0.5 and 0.5 of a grid 0-1), kept
    fixed because choosing them again inside each training set picked noise. ``offset_`` centres the
    shift on the training items, so the regression's calibration is kept.

    ``threshold_`` is the training overturn rate: an item is recommended Overturned when the record
    makes an overturn likelier than for the average disputed item. The cut at the best out-of-fold
    F1 was tried first; with 28 overturns it swung from 0.075 to 0.35 between training sets, and
    letter-grouped CV F1 was 0.40 +- 0.05 against 0.44 +- 0.01 for this rule.
    """

    def __init__(
        self,
        C: float = 10.0,
        rule_weight: float = 0.1,
        support_weight: float = 0.5,
        items_weight: float = 0.5,
    ) -> None:
        self.C = C
        self.rule_weight = rule_weight
        self.support_weight = support_weight
        self.items_weight = items_weight

    def _matrix(self, items: Sequence[ItemInput], fit: bool) -> csr_matrix:
        texts = [_DIGITS.sub(lambda m: f"n{len(m.group())}", i.text) for i in items]
        rules = [{k: i.features.get(k, 0.0) for k in RULE_FEATURES} for i in items]
        if fit:
            self.text_ = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
            self.rules_ = DictVectorizer()
            self.scale_ = StandardScaler(with_mean=False)
            a = self.text_.fit_transform(texts)
            b = self.scale_.fit_transform(self.rules_.fit_transform(rules))
        else:
            a = self.text_.transform(texts)
            b = self.scale_.transform(self.rules_.transform(rules))
        return hstack([a, b * self.rule_weight]).tocsr()

    def _shift(self, items: Sequence[ItemInput]) -> np.ndarray:
        support = np.array([i.features.get("support", 0.0) for i in items])
        log_items = np.log([max(i.features.get("case_items", 1.0), 1.0) for i in items])
        return self.support_weight * support - self.items_weight * log_items

    def _score(self, items: Sequence[ItemInput]) -> np.ndarray:
        return self.lr_.decision_function(self._matrix(items, fit=False)) + self._shift(items)

    def fit(self, items: Sequence[ItemInput], y: Sequence[bool]):
        """Fit on items and their labels (True = Overturned)."""
        labels = np.asarray(y, dtype=bool)
        self.offset_ = -float(self._shift(items).mean())
        self.threshold_ = float(labels.mean())
        self.lr_ = LogisticRegression(C=self.C, max_iter=5000).fit(self._matrix(items, fit=True), labels)
        self.classes_ = self.lr_.classes_
        return self

    def predict_proba(self, items: Sequence[ItemInput]) -> np.ndarray:
        """Columns: p(Upheld), p(Overturned)."""
        p = expit(self._score(items) + self.offset_)
        return np.column_stack([1.0 - p, p])

    def predict(self, items: Sequence[ItemInput]) -> np.ndarray:
        """True where the item is recommended Overturned."""
        return self.predict_proba(items)[:, 1] >= self.threshold_


class FamilyModel(ClassifierMixin, BaseEstimator):
    """The guideline family a reviewer would cite, from the request and its candidate rules."""

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def fit(self, items: Sequence[ItemInput], families: Sequence[str]):
        self.vec_ = DictVectorizer()
        x = self.vec_.fit_transform([i.family_features for i in items])
        self.lr_ = LogisticRegression(C=self.C, max_iter=5000).fit(x, list(families))
        self.classes_ = self.lr_.classes_
        return self

    def predict_proba(self, items: Sequence[ItemInput]) -> np.ndarray:
        return self.lr_.predict_proba(self.vec_.transform([i.family_features for i in items]))

    def predict(self, items: Sequence[ItemInput]) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(items), axis=1)]
