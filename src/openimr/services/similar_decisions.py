"""Similar past decisions from the letter store, for the review engine's reasons.

The index is built once per database and rebuilt only when letters were added since (the
corpus's own :class:`~openimr.services.corpus.similar.SimilarIndex` does the ranking).
"""

from __future__ import annotations

from functools import cache
from threading import Lock

from pydantic import BaseModel
from sqlalchemy import Engine, func, select

from openimr.services.corpus.similar import SimilarIndex
from openimr.store.db import make_engine
from openimr.store.tables import LetterRow

_BUILT: dict[str, tuple[int, SimilarIndex]] = {}
_LOCK = Lock()


class SimilarDecision(BaseModel):
    """A decided item of a past letter that resembles the disputed item."""

    letter: str
    item: str
    decision: str
    family: str
    score: float


@cache
def _engine(db_url: str) -> Engine:
    return make_engine(db_url)


def similar_index(db_url: str) -> SimilarIndex:
    """The index of every decided item stored at *db_url*, current with the store."""
    engine = _engine(db_url)
    with engine.connect() as conn:
        newest = conn.scalar(select(func.coalesce(func.max(LetterRow.id), 0)))
    with _LOCK:
        built = _BUILT.get(db_url)
        if built is None or built[0] != newest:
            built = (newest, SimilarIndex.from_db(engine))
            _BUILT[db_url] = built
    return built[1]


def similar_decisions(
    index: SimilarIndex, item: str, case_number: str | None, k: int = 10
) -> list[SimilarDecision]:
    """The *k* past decisions most like *item*, leaving out the case's own letter."""
    return [
        SimilarDecision(
            letter=m.record.letter,
            item=m.record.item,
            decision=m.record.decision,
            family=m.record.family,
            score=m.score,
        )
        for m in index.similar(item, k=k, exclude_letter=case_number)
    ]
