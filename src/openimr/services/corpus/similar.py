"""Similar past decisions for a disputed item, over an in-memory index of issue records.

An item is compared with every indexed item by what it asks for and how it is written: the same
category counts most, then shared body parts (and, less, body regions), the same drug or drug
class, a similar quantity or number of sessions, and TF-IDF cosine of the item texts. Scoring is
vectorized (numpy/scipy), so one look-up over a million records takes milliseconds.

Build the index from letters (:meth:`SimilarIndex.from_letters`) or from the store
(:meth:`SimilarIndex.from_db`); :meth:`SimilarIndex.similar` is pure: it reads the index only.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sqlalchemy import Engine, select

from openimr.core.families import guideline_family
from openimr.core.models import Letter
from openimr.core.requests import Request
from openimr.services.corpus.features import (
    IssueRecord,
    ItemFeatures,
    item_features,
    records_from_letters,
    request_features,
)
from openimr.store.schema import IssueRow, LetterRow, SpecialtyRow

WEIGHTS = {
    "category": 4.0,
    "parts": 2.0,
    "regions": 0.5,
    "drug": 1.5,
    "drug_class": 1.0,
    "amount": 0.5,
    "text": 1.5,
}
_TOKEN = re.compile(r"[a-z]+|\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Match:
    """An indexed record and how similar it is to the query (higher is closer)."""

    record: IssueRecord
    score: float


def tokens(text: str) -> list[str]:
    """Lower-case words and numbers of *text*."""
    return _TOKEN.findall(text.lower())


class _Codes:
    """Dense integer codes of strings (-1 for None)."""

    def __init__(self) -> None:
        self.of: dict[str, int] = {}

    def add(self, value: str | None) -> int:
        return -1 if value is None else self.of.setdefault(value, len(self.of))

    def get(self, value: str | None) -> int:
        return -2 if value is None else self.of.get(value, -3)


def _binary(rows: Iterable[Iterable[str]], codes: _Codes) -> sparse.csr_matrix:
    indptr, indices = [0], []
    for names in rows:
        indices.extend(codes.add(n) for n in names)
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, max(len(codes.of), 1)))


def _vector(names: Iterable[str], codes: _Codes, width: int) -> np.ndarray:
    vec = np.zeros(width, dtype=np.float32)
    for name in names:
        if name in codes.of:
            vec[codes.of[name]] = 1.0
    return vec


class SimilarIndex:
    """Issue records with their features laid out as arrays for vectorized scoring."""

    def __init__(self, records: Sequence[IssueRecord]) -> None:
        self.records = list(records)
        feats = [r.features for r in self.records]
        self._categories, self._drugs, self._classes, self._letters = _Codes(), _Codes(), _Codes(), _Codes()
        self._category = np.array([self._categories.add(f.category) for f in feats], dtype=np.int32)
        self._drug = np.array([self._drugs.add(f.drug_name) for f in feats], dtype=np.int32)
        self._class = np.array([self._classes.add(f.drug_class) for f in feats], dtype=np.int32)
        self._letter = np.array([self._letters.add(r.letter) for r in self.records], dtype=np.int32)
        amounts = [f.amount for f in feats]
        self._amount = np.array([math.nan if a is None else a for a in amounts], dtype=np.float64)
        self._part_codes, self._region_codes, self._words = _Codes(), _Codes(), _Codes()
        self._parts = _binary((f.body_parts for f in feats), self._part_codes)
        self._regions = _binary((f.body_regions for f in feats), self._region_codes)
        self._part_count = np.asarray(self._parts.sum(axis=1)).ravel()
        self._region_count = np.asarray(self._regions.sum(axis=1)).ravel()
        counts = _binary((tokens(r.item) for r in self.records), self._words)
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        self._idf = (np.log((1 + len(self.records)) / (1 + df)) + 1).astype(np.float32)
        self._text = _normalize(counts.multiply(self._idf).tocsr())

    @classmethod
    def from_letters(cls, letters: Iterable[Letter]) -> SimilarIndex:
        """An index of every issue of *letters*."""
        return cls(records_from_letters(letters))

    @classmethod
    def from_db(cls, engine: Engine) -> SimilarIndex:
        """An index of every issue stored in the database of *engine*."""
        return cls(records_from_db(engine))

    def _text_vector(self, item: str) -> np.ndarray:
        vec = np.zeros(len(self._words.of) or 1, dtype=np.float32)
        for word, n in Counter(tokens(item)).items():
            code = self._words.of.get(word)
            if code is not None:
                vec[code] = n * self._idf[code]
        norm = np.linalg.norm(vec)
        return vec / norm if norm else vec

    def scores(self, features: ItemFeatures, item: str = "") -> np.ndarray:
        """The similarity of every indexed record to an item with *features* and text *item*."""
        w = WEIGHTS
        score = w["category"] * (self._category == self._categories.get(features.category))
        score = score + w["parts"] * _overlap(
            self._parts, self._part_count, features.body_parts, self._part_codes
        )
        score = score + w["regions"] * _overlap(
            self._regions, self._region_count, features.body_regions, self._region_codes
        )
        score = score + w["drug"] * (self._drug == self._drugs.get(features.drug_name))
        score = score + w["drug_class"] * (self._class == self._classes.get(features.drug_class))
        if features.amount is not None:
            with np.errstate(invalid="ignore"):
                closeness = np.exp(-np.abs(np.log1p(self._amount) - math.log1p(features.amount)))
            score = score + w["amount"] * np.nan_to_num(closeness)
        if item:
            score = score + w["text"] * (self._text @ self._text_vector(item))
        return score

    def similar(
        self, query: str | Request | IssueRecord, k: int = 10, exclude_letter: str | None = None
    ) -> list[Match]:
        """The *k* records most similar to *query* (an item line, a parsed request, or a record),
        best first, leaving out the records of the letter *exclude_letter*."""
        if isinstance(query, IssueRecord):
            features, item = query.features, query.item
        elif isinstance(query, Request):
            features, item = request_features(query), ""
        else:
            features, item = item_features(query), query
        if not self.records:
            return []
        score = self.scores(features, item)
        if exclude_letter is not None and exclude_letter in self._letters.of:
            score = np.where(self._letter == self._letters.of[exclude_letter], -np.inf, score)
        k = min(k, int(np.isfinite(score).sum()))
        top = np.argpartition(-score, k - 1)[:k] if k else np.array([], dtype=int)
        top = top[np.lexsort((top, -score[top]))]
        return [Match(self.records[i], round(float(score[i]), 6)) for i in top]


def _normalize(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms).dot(matrix).tocsr()


def _overlap(
    matrix: sparse.csr_matrix, counts: np.ndarray, names: Sequence[str], codes: _Codes
) -> np.ndarray:
    """Jaccard overlap of each row's names with *names*; 1 where both have none."""
    if not names:
        return (counts == 0).astype(np.float32)
    shared = matrix @ _vector(names, codes, matrix.shape[1])
    return shared / (counts + len(set(names)) - shared)


def records_from_db(engine: Engine) -> list[IssueRecord]:
    """Every stored issue as a record, in letter and issue order."""
    query = (
        select(
            LetterRow.id,
            LetterRow.case_number,
            LetterRow.file,
            LetterRow.decision_date,
            IssueRow.position,
            IssueRow.item,
            IssueRow.decision,
            IssueRow.imro_guideline,
            IssueRow.rationale,
        )
        .join(IssueRow, IssueRow.letter_id == LetterRow.id)
        .order_by(LetterRow.id, IssueRow.position)
    )
    with engine.connect() as conn:
        specialties: dict[int, list[str]] = {}
        for letter, name in conn.execute(
            select(SpecialtyRow.letter_id, SpecialtyRow.specialty).order_by(
                SpecialtyRow.letter_id, SpecialtyRow.position
            )
        ):
            specialties.setdefault(letter, []).append(name)
        rows = conn.execute(query).all()
    return [
        IssueRecord(
            letter=case or file,
            position=position,
            item=item,
            decision=decision,
            family=guideline_family(guideline),
            year=decided.year if decided else None,
            specialties=tuple(specialties.get(letter, ())),
            features=item_features(item),
            rationale=rationale,
        )
        for letter, case, file, decided, position, item, decision, guideline, rationale in rows
    ]
