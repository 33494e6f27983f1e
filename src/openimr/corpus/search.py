"""Search over the stored decisions: full text, semantic similarity of item texts, or both.

Full text runs on SQLite's FTS5 table (BM25, the item weighted over the rationale over the clinical
summary) or PostgreSQL's weighted ``search_vector`` (``ts_rank``), all query words required, else
any of them. Semantic ranking compares the query's all-MiniLM-L6-v2 embedding with the item texts'
embeddings, held in memory once per :class:`Searcher`. Hybrid search fuses both candidate lists by
reciprocal rank. Every mode takes the same filters, applied in SQL.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from enum import StrEnum

import numpy as np
from sqlalchemy import Connection, Engine, select, text

from openimr.corpus import embeddings
from openimr.corpus.schema import corpus_embeddings

RRF_K = 60
SEMANTIC_TEXTS = 16
_WORD = re.compile(r"\w+")


class Mode(StrEnum):
    hybrid = "hybrid"
    text = "text"
    semantic = "semantic"


@dataclass(frozen=True)
class Filters:
    """Conditions every hit meets; ``None`` leaves a field free. Text matches ignore case."""

    decision: str | None = None
    family: str | None = None
    category: str | None = None
    body_part: str | None = None
    drug_class: str | None = None
    year: int | None = None
    specialty: str | None = None

    def sql(self) -> tuple[str, dict[str, object]]:
        """A SQL condition on ``corpus_issues AS ci`` (``1=1`` when free) and its parameters."""
        clauses = {
            "decision": "lower(ci.decision) = :decision",
            "family": "lower(ci.family) = :family",
            "category": "ci.category = :category",
            "drug_class": "ci.drug_class = :drug_class",
            "year": "ci.year = :year",
            "body_part": "EXISTS (SELECT 1 FROM corpus_body_parts AS bp"
            " WHERE bp.issue_id = ci.id AND bp.name = :body_part)",
            "specialty": "EXISTS (SELECT 1 FROM letter_specialties AS ls"
            " WHERE ls.letter_id = ci.letter_id AND lower(ls.specialty) = :specialty)",
        }
        params = {k: v.lower() if isinstance(v, str) else v for k, v in asdict(self).items() if v is not None}
        return " AND ".join(["1=1", *(clauses[k] for k in params)]), params


@dataclass(frozen=True)
class Hit:
    """One matching issue: its letter, item number (from 1), item, decision and guideline family."""

    letter: str
    item_number: int
    item: str
    decision: str
    family: str
    category: str
    year: int | None
    score: float


_SQLITE_TEXT = (
    "SELECT ci.id FROM corpus_fts JOIN corpus_issues AS ci ON ci.id = corpus_fts.rowid"
    " WHERE corpus_fts MATCH :q AND {where} ORDER BY bm25(corpus_fts, 4.0, 1.0, 0.5) LIMIT :n"
)
_PG_TEXT = (
    "SELECT ci.id FROM corpus_issues AS ci, to_tsquery('english', :q) AS query"
    " WHERE ci.search_vector @@ query AND {where} ORDER BY ts_rank(ci.search_vector, query) DESC LIMIT :n"
)
_BY_TEXT = "SELECT ci.id FROM corpus_issues AS ci WHERE ci.text_hash = :h AND {where} LIMIT :n"
_DETAILS = (
    "SELECT ci.id, coalesce(l.case_number, l.file), ci.position, li.item, ci.decision, ci.family,"
    " ci.category, ci.year, ci.text_hash FROM corpus_issues AS ci"
    " JOIN letter_issues AS li ON li.letter_id = ci.letter_id AND li.position = ci.position"
    " JOIN letters AS l ON l.id = ci.letter_id WHERE ci.id IN ({ids})"
)


class Searcher:
    """Searches one database; loads the item-text embeddings on the first semantic query."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._hashes: list[str] | None = None
        self._row_of: dict[str, int] = {}
        self._vectors = np.zeros((0, embeddings.DIM), dtype=np.float32)

    def _load_vectors(self, conn: Connection) -> None:
        rows = conn.execute(
            select(corpus_embeddings.c.text_hash, corpus_embeddings.c.vector).where(
                corpus_embeddings.c.model == embeddings.MODEL
            )
        ).all()
        self._hashes = [h for h, _ in rows]
        self._row_of = {h: i for i, h in enumerate(self._hashes)}
        self._vectors = embeddings.from_bytes([v for _, v in rows])

    def search(
        self, query: str, filters: Filters = Filters(), limit: int = 10, mode: Mode = Mode.hybrid
    ) -> list[Hit]:
        """The best *limit* issues for *query* under *filters*, best first."""
        where, params = filters.sql()
        pool = max(4 * limit, 40)
        with self.engine.connect() as conn:
            ranked_text = self._text_ids(conn, query, where, params, pool) if mode != Mode.semantic else []
            ranked_semantic: list[int] = []
            scores = np.zeros(0, dtype=np.float32)
            if mode != Mode.text:
                if self._hashes is None:
                    self._load_vectors(conn)
                scores = self._vectors @ embeddings.embed([query])[0]
                ranked_semantic = self._semantic_ids(conn, scores, where, params, pool)
            ids = list(dict.fromkeys([*ranked_text, *ranked_semantic]))
            if not ids:
                return []
            details = {
                row[0]: row
                for row in conn.execute(text(_DETAILS.format(ids=",".join(str(int(i)) for i in ids))))
            }
        if mode == Mode.text:
            fused = {issue: 1.0 / (RRF_K + rank) for rank, issue in enumerate(ranked_text, 1)}
        else:
            fused = self._fuse(ranked_text, ids, details, scores)
        best = sorted(ids, key=lambda i: (-fused.get(i, 0.0), i))[:limit]
        return [_hit(details[i], fused.get(i, 0.0)) for i in best]

    def _fuse(
        self, ranked_text: list[int], ids: list[int], details: dict, scores: np.ndarray
    ) -> dict[int, float]:
        """Reciprocal-rank fusion of the text ranking and a semantic ranking of all candidates."""

        def similarity(issue: int) -> float:
            row = self._row_of.get(details[issue][8])
            return float(scores[row]) if row is not None else -1.0

        fused = {issue: 1.0 / (RRF_K + rank) for rank, issue in enumerate(ranked_text, 1)}
        for rank, issue in enumerate(sorted(ids, key=lambda i: -similarity(i)), 1):
            fused[issue] = fused.get(issue, 0.0) + 1.0 / (RRF_K + rank)
        return fused

    def _text_ids(self, conn: Connection, query: str, where: str, params: dict, n: int) -> list[int]:
        words = _WORD.findall(query.lower())
        if not words:
            return []
        postgres = conn.dialect.name == "postgresql"
        sql = text((_PG_TEXT if postgres else _SQLITE_TEXT).format(where=where))
        quoted = words if postgres else [f'"{w}"' for w in words]
        for joiner in (" & " if postgres else " AND ", " | " if postgres else " OR "):
            ids = conn.execute(sql, {**params, "q": joiner.join(quoted), "n": n}).scalars().all()
            if ids or len(words) == 1:
                return list(ids)
        return []

    def _semantic_ids(
        self, conn: Connection, scores: np.ndarray, where: str, params: dict, n: int
    ) -> list[int]:
        """Issues whose item text is nearest the query, nearest texts first, up to *n*."""
        assert self._hashes is not None
        top = np.argsort(-scores)[:SEMANTIC_TEXTS]
        sql = text(_BY_TEXT.format(where=where))
        ids: list[int] = []
        for row in top:
            ids.extend(conn.execute(sql, {**params, "h": self._hashes[row], "n": n - len(ids)}).scalars())
            if len(ids) >= n:
                break
        return ids


def _hit(row, score: float) -> Hit:
    _, letter, position, item, decision, family, category, year, _ = row
    return Hit(letter, position + 1, item, decision, family, category, year, round(score, 6))
