"""The review engine over the letter store: the engine called with the typed case and the rules
of the application (:attr:`openimr.services.app.OpenIMR.rules`), similar past decisions of its
store in the reasons.

The index is built once per database and rebuilt only when letters were added since (the
corpus's own :class:`~openimr.services.corpus.similar.SimilarIndex` does the ranking).
"""

from __future__ import annotations

from collections.abc import Callable
from threading import Lock

from sqlalchemy import func, select

from openimr.core.case import Case
from openimr.core.guidelines.packs import rules_in_force
from openimr.core.guidelines.rules import RuleSet
from openimr.core.review.engine import Review, SimilarDecision, SimilarFinder, review_case
from openimr.core.review.precedent import stated_reason
from openimr.services.corpus.similar import SimilarIndex
from openimr.store.db import Store
from openimr.store.schema import LetterRow

_BUILT: dict[str, tuple[int, SimilarIndex]] = {}
_LOCK = Lock()


def similar_index(store: Store) -> SimilarIndex:
    """The index of every decided item in *store*, current with the store."""
    with store.engine.connect() as conn:
        newest = conn.scalar(select(func.coalesce(func.max(LetterRow.id), 0)))
    with _LOCK:
        built = _BUILT.get(store.url)
        if built is None or built[0] != newest:
            built = (newest, SimilarIndex.from_db(store.engine))
            _BUILT[store.url] = built
    return built[1]


PRECEDENTS = 25  # similar past decisions the precedents summarize (the closest ten are listed)


def similar_decisions(
    index: SimilarIndex, item: str, case_number: str | None, k: int = PRECEDENTS
) -> list[SimilarDecision]:
    """The *k* past decisions most like *item*, leaving out the case's own letter, each with the
    decisive reason its rationale states (and the sentence that states it) when one is read."""
    out = []
    for m in index.similar(item, k=k, exclude_letter=case_number):
        stated = stated_reason(m.record.rationale, m.record.decision)
        out.append(
            SimilarDecision(
                letter=m.record.letter,
                item=m.record.item,
                decision=m.record.decision,
                family=m.record.family,
                score=m.score,
                number=m.record.position + 1,
                reason=stated[0] if stated else None,
                quote=stated[1] if stated else None,
            )
        )
    return out


def similar_finder(store: Store) -> SimilarFinder:
    """A finder of the past decisions in *store* most like an item, for :func:`review`."""
    index = similar_index(store)
    return lambda item, case_number: similar_decisions(index, item, case_number)


# What decision support runs: the typed case and the store of past decisions (or None) in, the
# typed review out; the rules are those in force (:func:`~openimr.core.guidelines.packs.rules_in_force`).
Engine = Callable[[Case, Store | None], Review]


def run(case: Case, store: Store | None = None, model_path: str | None = None) -> Review:
    """Review *case* with the rules in force; with *store* the reasons give similar past decisions
    there (an :data:`Engine`)."""
    return review_case(case, model_path, similar_finder(store) if store else None)


def review(case: Case, rules: RuleSet, model_path: str | None = None, store: Store | None = None) -> Review:
    """Review *case* with *rules*; with *store* the reasons give similar past decisions there."""
    with rules_in_force(rules):
        return run(case, store, model_path)
