"""The learned parts of decision support, with scikit-learn's fit/predict_proba conventions.

``OverturnModel`` estimates how likely an expert reviewer is to overturn a UR decision. A logistic
regression reads the summary's sentences about the utilization review (what UR did and why) as
TF-IDF terms, plus a few rule results (limits exceeded, "not recommended", partial authorization)
with small weight, on top of an offset of two knowledge-based terms with fixed weights (never
fitted as free coefficients, which overfit 100 letters): the guideline-support score of the
criteria results, and how many treatments the application disputes (applications disputing many
have them overturned less often; a perioperative service counts with its operation, not on its
own). ``FamilyModel`` learns which guideline family reviewers cite from the request and the
candidate MTUS rules.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy.sparse import csr_matrix, hstack
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from openimr.core.models import ReasonCode

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

    A binomial GLM (glum: scikit-learn's logistic regression has no offset, scikit-learn issue
    #24614) fitted with the offset ``support_weight`` x the guideline-support score
    ``- items_weight`` x log(treatments the application disputes): the text and rule coefficients
    are learned given what the guideline criteria already say, and the probabilities stay
    calibrated. At 1 and 1 each criterion result multiplies the odds of an overturn by e (or 1/e)
    and the odds fall as 1/n with n treatments disputed. The weights and the L2 strength ``C`` (as
    in scikit-learn: larger is weaker) are fixed hyperparameters, chosen by letter-grouped
    cross-validation on the dev letters (weights 0.5-1.5 and C 1-10 gave AUC 0.83-0.86), because
    choosing them again inside each training set, or learning the weights as free coefficients,
    picked noise from 28 overturns.

    ``threshold_`` is the training overturn rate: an item is recommended Overturned when the record
    makes an overturn likelier than for the average disputed item. The cut at the best out-of-fold
    F1 was tried first; with 28 overturns it swung from 0.075 to 0.35 between training sets.
    :meth:`recommend` is the one place the cut is applied.
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "rule_weight": [Interval(Real, 0, None, closed="left")],
        "support_weight": [Interval(Real, 0, None, closed="left")],
        "items_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        C: float = 3.0,
        rule_weight: float = 0.1,
        support_weight: float = 1.0,
        items_weight: float = 1.0,
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

    def _offset(self, items: Sequence[ItemInput]) -> np.ndarray:
        support = np.array([i.features.get("support", 0.0) for i in items])
        log_items = np.log([max(i.features.get("case_items", 1.0), 1.0) for i in items])
        return self.support_weight * support - self.items_weight * log_items

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, items: Sequence[ItemInput], y: Sequence[bool]):
        """Fit on items and their labels (True = Overturned); ``InvalidParameterError`` for
        hyperparameters out of range."""
        labels = np.asarray(y, dtype=bool)
        self.threshold_ = float(labels.mean())
        # Imported here: glum (with pandas and formulaic) takes ~2 s to import and only fitting needs
        # it; predicting is the linear predictor below.
        from glum import GeneralizedLinearRegressor

        # glum adds alpha x |w|^2 / 2 to the mean log-loss: alpha = 1 / (C x n) is scikit-learn's C.
        glm = GeneralizedLinearRegressor(family="binomial", alpha=1.0 / (self.C * len(labels)), l1_ratio=0.0)
        glm.fit(self._matrix(items, fit=True), labels.astype(float), offset=self._offset(items))
        self.coef_, self.intercept_ = np.asarray(glm.coef_), float(glm.intercept_)
        self.classes_ = np.array([False, True])
        return self

    def predict_proba(self, items: Sequence[ItemInput]) -> np.ndarray:
        """Columns: p(Upheld), p(Overturned); ``NotFittedError`` before :meth:`fit`."""
        check_is_fitted(self)
        p = expit(self._matrix(items, fit=False) @ self.coef_ + self.intercept_ + self._offset(items))
        return np.column_stack([1.0 - p, p])

    def recommend(self, p_overturn: Sequence[float] | np.ndarray) -> np.ndarray:
        """True where a probability of an overturn makes the item recommended Overturned."""
        check_is_fitted(self)
        return np.asarray(p_overturn, dtype=float) >= self.threshold_

    def predict(self, items: Sequence[ItemInput]) -> np.ndarray:
        """True where the item is recommended Overturned."""
        return self.recommend(self.predict_proba(items)[:, 1])


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


class ReasonPrior(BaseEstimator):
    """The likeliest Upheld reason for a kind of request (its request category), for items whose
    criteria decide nothing: the commonest labelled reason of the category's upheld items when the
    category has at least ``min_count`` of them, else the commonest overall."""

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "min_count": [Interval(Integral, 1, None, closed="left")]
    }

    def __init__(self, min_count: int = 3) -> None:
        self.min_count = min_count

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, categories: Sequence[str], reasons: Sequence[ReasonCode]):
        """Fit on the categories and labelled reasons of upheld items."""
        counts: dict[str, Counter[ReasonCode]] = {}
        for category, reason in zip(categories, reasons, strict=True):
            counts.setdefault(category, Counter())[reason] += 1
        overall = sum(counts.values(), Counter())
        self.default_ = overall.most_common(1)[0][0] if overall else ReasonCode.INDICATIONS_NOT_DOCUMENTED
        self.table_ = {c: n.most_common(1)[0][0] for c, n in counts.items() if n.total() >= self.min_count}
        return self

    def predict(self, categories: Sequence[str]) -> list[ReasonCode]:
        """The likeliest Upheld reason of each category; ``NotFittedError`` before :meth:`fit`."""
        check_is_fitted(self)
        return [self.table_.get(c, self.default_) for c in categories]
