"""Search over the stored decisions: full text, semantic similarity of item texts, or both.

Full text ranks the distinct documents (item, rationale and clinical summary of an issue) on
SQLite's FTS5 table (BM25, the item weighted over the rationale over the clinical summary) or
PostgreSQL's weighted ``search_vector`` (``ts_rank``), all query words required, else any of them;
each document stands for the issues that share it, taken in id order. Semantic ranking compares
the query's all-MiniLM-L6-v2 embedding with the item texts' embeddings; the nearest texts stand
for their issues the same way. Hybrid search fuses both candidate lists by reciprocal rank.

The filters and the document and item text of each issue are held in memory as numpy arrays
(:class:`_Corpus`, one per engine, reloaded when the index grows), so a filter is a boolean mask
and a ranked document or text turns into its matching issues without a query per candidate.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import asdict, dataclass

import numpy as np
from sqlalchemy import Connection, Engine, func, or_, select, text

from openimr.core.models import Letter
from openimr.services.corpus import embeddings
from openimr.services.options import Mode
from openimr.store.db import Store
from openimr.store.schema import LetterRow, corpus_embeddings

RRF_K = 60
SEMANTIC_TEXTS = 16
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Filters:
    """Conditions every hit meets; ``None`` leaves a field free. Values are matched lower-cased:
    decision, family and specialty ignore case; category, drug class and body part are stored so."""

    decision: str | None = None
    family: str | None = None
    category: str | None = None
    body_part: str | None = None
    drug_class: str | None = None
    year: int | None = None
    specialty: str | None = None


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


_SQLITE_DOCS = (
    "SELECT rowid FROM corpus_doc_fts WHERE corpus_doc_fts MATCH :q"
    " ORDER BY bm25(corpus_doc_fts, 4.0, 1.0, 0.5), rowid LIMIT :n"
)
_PG_DOCS = (
    "SELECT d.id FROM corpus_docs AS d, to_tsquery('english', :q) AS query"
    " WHERE d.search_vector @@ query ORDER BY ts_rank(d.search_vector, query) DESC, d.id LIMIT :n"
)
_DETAILS = (
    "SELECT ci.id, coalesce(l.case_number, l.file), ci.position, li.item, ci.decision, ci.family,"
    " ci.category, ci.year FROM corpus_issues AS ci"
    " JOIN letter_issues AS li ON li.letter_id = ci.letter_id AND li.position = ci.position"
    " JOIN letters AS l ON l.id = ci.letter_id WHERE ci.id IN ({ids})"
)
_ISSUES = (
    "SELECT ci.id, ci.letter_id, ci.doc_id, lower(ci.decision), lower(ci.family), ci.category,"
    " ci.drug_class, ci.year FROM corpus_issues AS ci ORDER BY ci.id"
)
_DOCS = "SELECT id, text_hash FROM corpus_docs"
_BODY_PARTS = "SELECT issue_id, name FROM corpus_body_parts"
_SPECIALTIES = "SELECT DISTINCT letter_id, lower(specialty) FROM letter_specialties"
DOC_PAGE = 1000


def _encode(values) -> tuple[np.ndarray, dict]:
    """Dense integer codes of *values* and the code of each distinct value."""
    values = list(values)
    vocab = {v: i for i, v in enumerate(dict.fromkeys(values))}
    return np.fromiter(map(vocab.__getitem__, values), dtype=np.int32, count=len(values)), vocab


def _locate(keys: np.ndarray, values) -> tuple[np.ndarray, np.ndarray]:
    """The positions of *values* in the sorted array *keys*, and which of them are there at all."""
    values = np.asarray(values, dtype=np.int64)
    if not len(keys):
        return np.zeros(len(values), dtype=np.int64), np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
    return at, keys[at] == values


def _split(codes: np.ndarray, vocab: dict, items: np.ndarray) -> dict:
    """*items* grouped by the value their *codes* stand for."""
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(vocab) + 1))
    return {value: items[order[bounds[c] : bounds[c + 1]]] for value, c in vocab.items()}


class _Groups:
    """Issue positions grouped by a key (a document or an item text), in id order within a group."""

    def __init__(self, codes: np.ndarray, groups: int) -> None:
        self.order = np.argsort(codes, kind="stable")
        self.starts = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=groups))])

    def first(self, groups: np.ndarray, mask: np.ndarray | None, n: int) -> np.ndarray:
        """Up to *n* positions of *groups*' issues that *mask* keeps, by group order, then id."""
        starts = self.starts[groups]
        sizes = self.starts[groups + 1] - starts
        ends = np.cumsum(sizes)
        found: list[np.ndarray] = []
        got, i, budget = 0, 0, 4 * n
        while i < len(groups) and got < n:  # blocks of growing size: little work when hits come early
            j = max(i + 1, int(np.searchsorted(ends, (ends[i - 1] if i else 0) + budget, side="right")))
            block_sizes = sizes[i:j]
            offsets = np.repeat(starts[i:j] - (np.cumsum(block_sizes) - block_sizes), block_sizes)
            members = self.order[offsets + np.arange(int(block_sizes.sum()))]
            if mask is not None:
                members = members[mask[members]]
            found.append(members[: n - got])
            got += len(found[-1])
            i, budget = j, budget * 4
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


class _Corpus:
    """The indexed issues in memory: filter columns as codes, issues by document and by item text."""

    def __init__(self, conn: Connection) -> None:
        self.high = conn.scalar(text("SELECT max(id) FROM corpus_issues"))
        rows = conn.exec_driver_sql(_ISSUES).all()
        columns = list(zip(*rows, strict=True)) if rows else [()] * 8
        self.ids = np.array(columns[0], dtype=np.int64)
        self.size = len(self.ids)
        self.columns = dict(
            zip(
                ("decision", "family", "category", "drug_class", "year"),
                map(_encode, columns[3:]),
                strict=True,
            )
        )
        self.letters, self.letter = np.unique(np.array(columns[1], dtype=np.int64), return_inverse=True)
        self.doc_ids, doc_code = np.unique(np.array(columns[2], dtype=np.int64), return_inverse=True)
        self.docs = _Groups(doc_code, len(self.doc_ids))
        text_of = dict(conn.exec_driver_sql(_DOCS).all())
        doc_text, self.text_code = _encode(text_of[int(d)] for d in self.doc_ids)
        self.issue_text = doc_text[doc_code]
        self.texts = _Groups(self.issue_text, len(self.text_code))
        self.body = self._by_value(conn, _BODY_PARTS, self.ids)
        self.specialty = self._by_value(conn, _SPECIALTIES, self.letters)
        self.vectors: np.ndarray | None = None
        self.text_row = np.zeros(0, dtype=np.int64)

    @staticmethod
    def _by_value(conn: Connection, sql: str, keys: np.ndarray) -> dict[str, np.ndarray]:
        """For each value of a (key, value) query, the positions in sorted *keys* of its keys."""
        rows = conn.exec_driver_sql(sql).all()
        if not rows:
            return {}
        owners, values = zip(*rows, strict=True)
        at, known = _locate(keys, owners)
        codes, vocab = _encode(values)
        return _split(codes[known], vocab, at[known])

    def mask(self, filters: Filters) -> np.ndarray | None:
        """The issues that meet *filters*, or None when no filter is set."""
        result: np.ndarray | None = None
        for field, value in asdict(filters).items():
            if value is None:
                continue
            value = value.lower() if isinstance(value, str) else value
            if field in self.columns:
                codes, vocab = self.columns[field]
                keep = codes == vocab[value] if value in vocab else np.zeros(self.size, dtype=bool)
            elif field == "body_part":
                keep = np.zeros(self.size, dtype=bool)
                keep[self.body.get(value, [])] = True
            else:
                letters = np.zeros(len(self.letters), dtype=bool)
                letters[self.specialty.get(value, [])] = True
                keep = letters[self.letter]
            result = keep if result is None else result & keep
        return result

    def load_vectors(self, conn: Connection) -> None:
        """The item texts' embeddings and each text's row among them (-1 when it has none), loaded
        once, and again while some text lacks one and more embeddings have been stored since."""
        model = corpus_embeddings.c.model == embeddings.MODEL
        if self.vectors is not None and (
            self.text_row.min(initial=0) >= 0
            or conn.scalar(select(func.count()).select_from(corpus_embeddings).where(model))
            == len(self.vectors)
        ):
            return
        rows = conn.execute(
            select(corpus_embeddings.c.text_hash, corpus_embeddings.c.vector).where(model)
        ).all()
        row_of = {h: i for i, (h, _) in enumerate(rows)}
        self.vectors = embeddings.from_bytes([v for _, v in rows])
        self.text_row = np.array([row_of.get(h, -1) for h in self.text_code], dtype=np.int64)

    def similarity(self, query: np.ndarray) -> np.ndarray:
        """The cosine similarity of each item text (by code) to *query*; -1 for a text not embedded."""
        if self.vectors is None:
            raise RuntimeError("the embeddings are not loaded: call load_vectors first")
        scores = np.append(self.vectors @ query, np.float32(-1.0))  # row -1: not embedded
        return scores[self.text_row]


_CORPORA: weakref.WeakKeyDictionary[Engine, _Corpus] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _corpus(engine: Engine, conn: Connection) -> _Corpus:
    """The in-memory corpus of *engine*, (re)loaded when the index has changed since."""
    with _LOCK:
        corpus = _CORPORA.get(engine)
        if corpus is None or corpus.high != conn.scalar(text("SELECT max(id) FROM corpus_issues")):
            corpus = _CORPORA[engine] = _Corpus(conn)
        return corpus


class Searcher:
    """Searches one database; the in-memory corpus is shared by the searchers of an engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def search(
        self, query: str, filters: Filters = Filters(), limit: int = 10, mode: Mode = Mode.hybrid
    ) -> list[Hit]:
        """The best *limit* issues for *query* under *filters*, best first."""
        pool = max(4 * limit, 40)
        with self.engine.connect() as conn:
            corpus = _corpus(self.engine, conn)
            if not corpus.size:
                return []
            mask = corpus.mask(filters)
            ranked_text = self._text(conn, corpus, query, mask, pool) if mode != Mode.semantic else []
            ranked_semantic: list[int] = []
            similarity = np.zeros(0, dtype=np.float32)
            if mode != Mode.text:
                corpus.load_vectors(conn)
                similarity = corpus.similarity(embeddings.embed_query(query))
                nearest = np.argsort(-similarity, kind="stable")[:SEMANTIC_TEXTS]
                ranked_semantic = corpus.texts.first(nearest[similarity[nearest] > -1], mask, pool).tolist()
            positions = list(dict.fromkeys([*ranked_text, *ranked_semantic]))
            if not positions:
                return []
            ids = [int(corpus.ids[p]) for p in positions]
            details = {
                row[0]: row for row in conn.execute(text(_DETAILS.format(ids=",".join(map(str, ids)))))
            }
        if len(details) < len(ids):  # issues deleted since the corpus was loaded: reload it next time
            corpus.high = None
        fused = {p: 1.0 / (RRF_K + rank) for rank, p in enumerate(ranked_text, 1)}
        if mode != Mode.text:
            sims = similarity[corpus.issue_text[positions]]
            for rank, k in enumerate(np.argsort(-sims, kind="stable"), 1):
                fused[positions[k]] = fused.get(positions[k], 0.0) + 1.0 / (RRF_K + rank)
        best = [(p, int(corpus.ids[p])) for p in sorted(positions, key=lambda p: (-fused[p], p))]
        return [_hit(details[i], fused[p]) for p, i in best if i in details][:limit]

    def _text(
        self, conn: Connection, corpus: _Corpus, query: str, mask: np.ndarray | None, n: int
    ) -> list[int]:
        """Positions of the issues whose documents best match *query*: all words, else any."""
        words = _WORD.findall(query.lower())
        if not words:
            return []
        postgres = conn.dialect.name == "postgresql"
        sql = text(_PG_DOCS if postgres else _SQLITE_DOCS)
        quoted = words if postgres else [f'"{w}"' for w in words]
        for joiner in (" & " if postgres else " AND ", " | " if postgres else " OR "):
            found = self._ranked_docs(conn, corpus, sql, joiner.join(quoted), mask, n)
            if found or len(words) == 1:
                return found
        return []

    @staticmethod
    def _ranked_docs(
        conn: Connection, corpus: _Corpus, sql, q: str, mask: np.ndarray | None, n: int
    ) -> list[int]:
        """The first *n* issues of the documents matching *q*, best document first (a page at a time)."""
        found: list[np.ndarray] = []
        got, seen, page = 0, 0, DOC_PAGE
        while got < n:
            docs = conn.execute(sql, {"q": q, "n": page}).scalars().all()
            at, known = _locate(corpus.doc_ids, docs[seen:])  # a document added since loading is skipped
            found.append(corpus.docs.first(at[known], mask, n - got))
            got += len(found[-1])
            if len(docs) < page:
                break
            seen, page = len(docs), page * 8
        return np.concatenate(found).tolist() if found else []


def _hit(row, score: float) -> Hit:
    _, letter, position, item, decision, family, category, year = row
    return Hit(letter, position + 1, item, decision, family, category, year, round(score, 6))


def search_store(
    store: Store, q: str, filters: Filters, limit: int = 20, mode: Mode = Mode.text
) -> list[Hit]:
    """Search the decisions stored in *store*, its index brought up to date first: what the API and
    the corpus search page both answer."""
    from openimr.services.corpus.index import sync_index  # the index imports this module

    sync_index(store.engine)
    return Searcher(store.engine).search(q, filters, limit, mode)


def past_decision(store: Store, letter: str) -> Letter | None:
    """The stored letter a hit names (its case number, else its file name), or None."""
    with store.transaction() as session:
        named = or_(
            LetterRow.case_number == letter, (LetterRow.case_number.is_(None)) & (LetterRow.file == letter)
        )
        row = session.scalars(select(LetterRow).where(named).order_by(LetterRow.id)).first()
        return row.to_letter() if row else None
