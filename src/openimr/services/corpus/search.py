"""Search over the stored decisions: full text, semantic similarity of item texts, or both.

Full text ranks the issues (item, rationale and clinical summary) by BM25 in the corpus's tantivy
index (:mod:`openimr.services.corpus.fulltext`), an issue holding more of the query's words first,
the filters part of the same query, so only what can reach the top is scored. Semantic ranking compares
the query's static embedding (:mod:`openimr.services.corpus.embeddings`) with the item texts' in the
nearest :data:`PROBES` vector lists (every text while there are few), picking the top without a
full sort; the nearest texts stand for their issues, taken in id order. Hybrid search fuses both
candidate lists by reciprocal rank.

A page of full-text results (:meth:`Searcher.page`: the web page and the API) also counts every
match, and gives each hit the passage of its rationale (else its clinical summary) that holds the
most of the query's words, those marked (:func:`openimr.services.corpus.fulltext.snippet`);
without words it lists what the filters keep, newest first.

The semantic side's filters and the item text of each issue come from the mapped index
(:func:`openimr.services.corpus.index.build_mapped`), numpy files mapped once per engine and
process, so a filter is a boolean mask and the first query pays no load.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np
from sqlalchemy import Connection, Engine, text

from openimr.services.corpus import embeddings
from openimr.services.corpus.fulltext import FullText, Snippet, snippet, store_id, terms
from openimr.services.csvout import CsvWriter
from openimr.services.options import Mode

if TYPE_CHECKING:
    from openimr.core.models import Letter
    from openimr.store.db import Store

RRF_K = 60
EXPORT_LIMIT = 10_000  # hits in a search's CSV export
CHOICES = 500  # values of a filter suggested
CSV_COLUMNS = ("letter", "item_number", "item", "decision", "family", "category", "year", "snippet")
SEMANTIC_TEXTS = 16


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


@dataclass(frozen=True)
class Found:
    """A hit of a page of results, with the passage of its rationale (else its clinical summary)
    that holds the most of the query's words, those marked."""

    hit: Hit
    snippet: Snippet


@dataclass(frozen=True)
class Results:
    """One page of a full-text search: its hits, and how many match in all."""

    total: int
    found: list[Found]


_COLUMNS = (
    "SELECT ci.id, coalesce(l.case_number, l.file), ci.position, li.item, ci.decision, ci.family,"
    " ci.category, ci.year"
)
_ISSUES = (
    " FROM corpus_issues AS ci"
    " JOIN letter_issues AS li ON li.letter_id = ci.letter_id AND li.position = ci.position"
    " JOIN letters AS l ON l.id = ci.letter_id WHERE ci.id IN ({ids})"
)
_DETAILS = _COLUMNS + _ISSUES
_WITH_PASSAGES = _COLUMNS + ", li.rationale, l.clinical_summary" + _ISSUES  # a hit's, then its snippet's
PROBES = 24  # vector lists searched per query
FILTERED_TEXTS = 512  # nearest texts taken before filtering, when a filter is set


def _locate(keys: np.ndarray, values) -> tuple[np.ndarray, np.ndarray]:
    """The positions of *values* in the sorted array *keys*, and which of them are there at all."""
    values = np.asarray(values, dtype=np.int64)
    if not len(keys):
        return np.zeros(len(values), dtype=np.int64), np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
    return at, keys[at] == values


class _Groups:
    """Issue positions grouped by their item text, in id order within a group."""

    def __init__(self, order: np.ndarray, starts: np.ndarray) -> None:
        self.order, self.starts = order, starts

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
            members = self.order[offsets + np.arange(int(block_sizes.sum()))].astype(np.int64)
            if mask is not None:
                members = members[mask[members]]
            found.append(members[: n - got])
            got += len(found[-1])
            i, budget = j, budget * 4
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


class _Corpus:
    """The indexes of one store: the full-text index, and the mapped index (see
    :func:`openimr.services.corpus.index.build_mapped`): the filter columns as codes, issues by item
    text, and the item texts' vectors in lists around k-means centroids, all numpy files mapped
    read-only, so opening costs no load."""

    def __init__(self, folder: Path, meta: dict, text_folder: Path) -> None:
        def load(name: str) -> np.ndarray:  # a plain array over the mapped file: no memmap wrappers
            return np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r"))

        self.high = meta["high"]
        self.store = meta["store"]
        self.ids = load("ids")
        self.size = len(self.ids)
        self.fulltext = FullText(text_folder)
        self.issue_text = load("issue_text")
        self.texts = _Groups(load("text_order"), load("text_starts"))
        self.columns = {
            name: (load(name), {v: i for i, v in enumerate(values)}) for name, values in meta["vocab"].items()
        }
        self.groups = {name: (load(f"{name}_positions"), bounds) for name, bounds in meta["groups"].items()}
        self.lists = meta["lists"]
        if self.lists:
            self.centroids = load("centroids")
            self.list_starts = load("list_starts")
            self.list_texts = load("list_texts")
            self.list_vectors = load("list_vectors")
            self.text_row = load("text_row")

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
            else:
                positions, bounds = self.groups["body" if field == "body_part" else field]
                keep = np.zeros(self.size, dtype=bool)
                if value in bounds:
                    keep[positions[bounds[value][0] : bounds[value][1]]] = True
            result = keep if result is None else result & keep
        return result

    def nearest(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The codes of the (about) *n* item texts nearest to *query*, nearest first, and their
        cosine similarities: every text when there is one list, else the texts of the
        :data:`PROBES` lists whose centroids are nearest."""
        if not self.lists:
            raise embeddings.EmbeddingsUnavailable(embeddings.INSTALL_HINT)
        probes = min(PROBES, self.lists)
        lists = np.sort(np.argpartition(-(self.centroids @ query), probes - 1)[:probes])
        bounds = [(int(self.list_starts[i]), int(self.list_starts[i + 1])) for i in lists]
        rows = np.concatenate([np.arange(a, b) for a, b in bounds])
        scores = np.concatenate([self.list_vectors[a:b] @ query for a, b in bounds])
        n = min(n, len(rows))
        if not n:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.lexsort((rows[top], -scores[top]))]
        return self.list_texts[rows[top]].astype(np.int64), scores[top]

    def similarity(self, texts: np.ndarray, query: np.ndarray) -> np.ndarray:
        """The cosine similarity to *query* of the item texts *texts* (codes)."""
        return self.list_vectors[self.text_row[texts]] @ query


_CORPORA: weakref.WeakKeyDictionary[Engine, _Corpus] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _corpus(engine: Engine, conn: Connection) -> _Corpus:
    """The indexes of *engine*, opened again when the corpus has changed (brought up to date first)."""
    from openimr.services.corpus.index import current_meta, ensure_mapped, index_dir, text_dir

    high = conn.scalar(text("SELECT max(id) FROM corpus_issues"))
    store = store_id(conn)
    with _LOCK:
        corpus = _CORPORA.get(engine)
        if corpus is None or (corpus.high, corpus.store) != (high, store):
            ensure_mapped(engine)
            corpus = _CORPORA[engine] = _Corpus(*current_meta(index_dir(engine)), text_dir(engine))
        return corpus


class Searcher:
    """Searches one database through its mapped index, opened once per engine."""

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
            ranked_text, stale = (
                ([], False) if mode == Mode.semantic else self._text(corpus, query, filters, pool)
            )
            ranked_semantic: list[int] = []
            mask = corpus.mask(filters) if mode != Mode.text else None
            if mode != Mode.text and (mask is None or mask.any()):
                vector = embeddings.embed_query(query)
                texts, _ = corpus.nearest(vector, SEMANTIC_TEXTS if mask is None else FILTERED_TEXTS)
                ranked_semantic = corpus.texts.first(texts, mask, pool).tolist()
            positions = list(dict.fromkeys([*ranked_text, *ranked_semantic]))
            ids = [int(corpus.ids[p]) for p in positions]
            found = conn.execute(text(_DETAILS.format(ids=",".join(map(str, ids))))) if ids else []
            details = {row[0]: row for row in found}
        if stale or len(details) < len(ids):  # issues deleted since the indexes were built: build them again
            from openimr.services.corpus.index import invalidate_mapped

            invalidate_mapped(self.engine)
            corpus.high = None
        if not positions:
            return []
        fused = {p: 1.0 / (RRF_K + rank) for rank, p in enumerate(ranked_text, 1)}
        if mode != Mode.text:
            sims = corpus.similarity(np.asarray(corpus.issue_text[positions], dtype=np.int64), vector)
            for rank, k in enumerate(np.argsort(-sims, kind="stable"), 1):
                fused[positions[k]] = fused.get(positions[k], 0.0) + 1.0 / (RRF_K + rank)
        best = [(p, int(corpus.ids[p])) for p in sorted(positions, key=lambda p: (-fused[p], p))]
        return [_hit(details[i], fused[p]) for p, i in best if i in details][:limit]

    def page(self, query: str, filters: Filters = Filters(), offset: int = 0, limit: int = 20) -> Results:
        """The *limit* issues from *offset* on of those matching any of *query*'s words under
        *filters*, best first, each with its snippet, and their number; without words (a blank
        *query*), every issue meeting *filters*, newest first. Full text only: semantic similarity
        ranks every issue, so it has no count of matches to page through."""
        with self.engine.connect() as conn:
            corpus = _corpus(self.engine, conn)
            if not corpus.size:
                return Results(0, [])
            ids, total = corpus.fulltext.page(query, asdict(filters), offset, limit)
            found = conn.execute(text(_WITH_PASSAGES.format(ids=",".join(map(str, ids))))) if ids else []
            details = {row[0]: row for row in found}
        if len(details) < len(ids):  # issues deleted since the indexes were built: build them again
            from openimr.services.corpus.index import invalidate_mapped

            invalidate_mapped(self.engine)
            corpus.high = None
        words = frozenset(terms(query))
        return Results(
            total,
            [  # scored as text search's fused ranks are
                Found(_hit(details[i][:8], 1.0 / (RRF_K + rank)), snippet(details[i][8:], words))
                for rank, i in enumerate(ids, offset + 1)
                if i in details
            ],
        )

    @staticmethod
    def _text(corpus: _Corpus, query: str, filters: Filters, n: int) -> tuple[list[int], bool]:
        """Positions of the *n* issues that best match *query* under *filters*, and whether the
        full-text index names issues the store no longer has. An issue added since the mapped index
        was built is skipped."""
        ids = corpus.fulltext.search(query, asdict(filters), n)
        at, known = _locate(corpus.ids, ids)
        return at[known].tolist(), bool((np.asarray(ids)[~known] <= (corpus.high or 0)).any())


def _hit(row, score: float) -> Hit:
    _, letter, position, item, decision, family, category, year = row
    return Hit(letter, position + 1, item, decision, family, category, year, round(score, 6))


def search_page(store: Store, q: str, filters: Filters, offset: int = 0, limit: int = 20) -> Results:
    """One page of the full-text search of the decisions stored in *store* (see
    :meth:`Searcher.page`), its index brought up to date first: what the API and the corpus search
    page both answer."""
    from openimr.services.corpus.index import sync_index  # the index imports this module

    sync_index(store.engine)
    return Searcher(store.engine).page(q, filters, offset, limit)


def filter_values(store: Store) -> dict[str, list[str]]:
    """The values each text filter of :class:`Filters` takes in *store*'s corpus, lower case and
    sorted (the first :data:`CHOICES` of each): what a search form suggests. They come from the
    mapped index, which holds them already, so asking costs no scan of the store."""
    from openimr.services.corpus.index import sync_index  # the index imports this module

    sync_index(store.engine)
    with store.engine.connect() as conn:
        corpus = _corpus(store.engine, conn)
    values = {name: corpus.columns[name][1] for name in ("family", "category", "drug_class")}
    values |= {"body_part": corpus.groups["body"][1], "specialty": corpus.groups["specialty"][1]}
    return {
        name: sorted(v for v in vocab if isinstance(v, str) and v)[:CHOICES] for name, vocab in values.items()
    }


def write_hits_csv(results: Results, out: TextIO) -> None:
    """*results* as CSV, one row per hit in their order, its snippet as plain text (through the
    one CSV writer, so no cell of a letter's text can run as a formula)."""
    writer = CsvWriter(out, CSV_COLUMNS)
    for found in results.found:
        hit = found.hit
        row = (hit.letter, hit.item_number, hit.item, hit.decision, hit.family, hit.category, hit.year)
        writer.row((*row, found.snippet.text))


def past_decision(store: Store, letter: str) -> Letter | None:
    """The stored letter a hit names (its case number, else its file name), or None."""
    from sqlalchemy import or_, select

    from openimr.store.schema import LetterRow

    with store.transaction() as session:
        named = or_(
            LetterRow.case_number == letter, (LetterRow.case_number.is_(None)) & (LetterRow.file == letter)
        )
        row = session.scalars(select(LetterRow).where(named).order_by(LetterRow.id)).first()
        return row.to_letter() if row else None
