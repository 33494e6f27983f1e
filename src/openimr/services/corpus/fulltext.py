"""The corpus's full-text index: each indexed issue's item, rationale and clinical summary as one
field and its item again as another (English stemming both), and its filter values, in a tantivy
index on disk beside the mapped index (:func:`openimr.services.corpus.index.index_dir`). A query
scores its words in the whole document by BM25, plus :data:`ITEM_BOOST` times their score in the
item: two posting lists per word rather than one per word and field. Any of the words may match,
as in a search engine: the issues holding more of them rank first, and the top is found by
block-max WAND, which skips blocks that cannot reach it, where requiring every word meant scoring
every issue that holds them all (half the corpus for "physical therapy sessions"; 31 ms against
19 ms at 2M issues, the same top five).

Why tantivy rather than the store's own full text: FTS5's ``bm25`` counts every query word's
documents on each query, and PostgreSQL's ``ts_rank`` reads every match's ``tsvector``, so one
common word costs tens to hundreds of milliseconds at a million issues and twice that at two.
Tantivy keeps the document frequencies, takes the top k by block-max WAND without scoring every
match, applies the filters as terms of the same query, and serves memory-mapped segments: the same
index, and the same speed, for either store.

:func:`sync` adds the issues above the index's highest one, committing every :data:`COMMIT`, so an
interrupted run is resumed by the next; a process that finds another one writing leaves the work to
it and searches what is committed. The index is keyed to its store: :data:`STORE_FILE` holds the id
the store was given when its schema was made, and an index built from another store (a file deleted
and made again, a database dropped and created under the same URL: issue ids start over) is built
afresh, never extended with the new store's issues above the old one's highest.
"""

from __future__ import annotations

import bisect
import functools
import os
import re
import shutil
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import tantivy
from sqlalchemy import Connection, Engine, text

VERSION = 1  # of the schema below: an index of another version is left for a new one
ITEM_BOOST = 3.0  # a word in the item counts four times one in the rationale or the summary
TERMS = ("decision", "family", "category", "drug_class", "body_part", "specialty")  # raw, lower-cased
BATCH = 20_000
COMMIT = 200_000
WRITER_HEAP = 256_000_000
STORE_FILE = "store-id"  # in the index's folder: the id of the store it was built from
SNIPPET_CHARS = 200  # about 30 words: a hit's snippet
SNIPPET_BEFORE = 30  # characters (to a word's start) shown before a snippet's first match
# The index's "en_stem" analyzer (simple tokenizer, long tokens dropped, lower case, English
# stemmer), applied to a query by hand so that its words become term queries.
_ANALYZER = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
    .filter(tantivy.Filter.lowercase())
    .filter(tantivy.Filter.stemmer("english"))
    .build()
)

_ROWS = (
    "SELECT ci.id, ci.letter_id, li.item, li.rationale, l.clinical_summary, lower(ci.decision),"
    " lower(ci.family), lower(ci.category), lower(ci.drug_class), ci.year FROM corpus_issues AS ci"
    " JOIN letter_issues AS li ON li.letter_id = ci.letter_id AND li.position = ci.position"
    " JOIN letters AS l ON l.id = ci.letter_id WHERE ci.id > :after ORDER BY ci.id LIMIT :n"
)
_BODY = "SELECT issue_id, lower(name) FROM corpus_body_parts WHERE issue_id >= :lo AND issue_id <= :hi"
_SPECIALTIES = (
    "SELECT DISTINCT letter_id, lower(specialty) FROM letter_specialties"
    " WHERE letter_id >= :lo AND letter_id <= :hi"
)


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("issue", indexed=True, fast=True)
    for name in ("item", "all"):
        builder.add_text_field(name, tokenizer_name="en_stem", index_option="freq")
    for name in TERMS:
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("year", indexed=True)
    return builder.build()


def _highest(index: tantivy.Index) -> int:
    """The highest issue id in *index*'s last commit (0 when it is empty)."""
    index.reload()
    top = index.searcher().search(tantivy.Query.all_query(), 1, count=False, order_by_field="issue").hits
    return int(top[0][0]) if top else 0


def store_id(conn: Connection) -> str:
    """The random id the store was given when its schema was made (``store_identity``)."""
    return conn.scalar(text("SELECT min(store_id) FROM store_identity")) or ""


def built_for(folder: Path) -> str | None:
    """The id of the store the full-text index at *folder* was built from (None: unknown)."""
    try:
        return (folder / STORE_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def sync(engine: Engine, folder: Path) -> int:
    """Add *engine*'s indexed issues above the highest in the full-text index at *folder* (made when
    missing, and made afresh when it was built from another store or holds issues the store lost);
    returns how many were added, 0 when another process is writing the index."""
    with engine.connect() as conn:
        high = conn.scalar(text("SELECT max(id) FROM corpus_issues")) or 0
        store = store_id(conn)
    if built_for(folder) != store:  # missing, or another store's
        _start_afresh(folder, store)
    index = tantivy.Index(_schema(), path=str(folder), reuse=True)
    after = _highest(index)
    if high < after:  # the store lost issues the index holds
        del index
        _start_afresh(folder, store)
        index, after = tantivy.Index(_schema(), path=str(folder), reuse=True), 0
    if high <= after:
        return 0
    try:
        writer = index.writer(heap_size=WRITER_HEAP, num_threads=min(2, os.cpu_count() or 1))
    except ValueError:  # the index lock is held: another process is bringing the index up to date
        return 0
    added = 0
    try:
        with engine.connect() as conn:
            while rows := conn.execute(text(_ROWS), {"after": after, "n": BATCH}).all():
                _add(conn, writer, rows)
                added += len(rows)
                after = rows[-1][0]
                if added % COMMIT < BATCH:
                    writer.commit()
        writer.commit()
        writer.wait_merging_threads()
    except BaseException:
        writer.rollback()
        raise
    return added


def _add(conn, writer: tantivy.IndexWriter, rows) -> None:
    """Add *rows* of :data:`_ROWS` with their body parts and their letters' specialties."""
    body: dict[int, list[str]] = {}
    for issue, name in conn.execute(text(_BODY), {"lo": rows[0][0], "hi": rows[-1][0]}):
        body.setdefault(issue, []).append(name)
    letters = [row[1] for row in rows]
    specialties: dict[int, list[str]] = {}
    for letter, name in conn.execute(text(_SPECIALTIES), {"lo": min(letters), "hi": max(letters)}):
        specialties.setdefault(letter, []).append(name)
    for issue, letter, item, rationale, summary, decision, family, category, drug_class, year in rows:
        values = {"decision": decision, "family": family, "category": category, "drug_class": drug_class}
        document = tantivy.Document(
            issue=issue,
            item=item or "",
            all=[item or "", rationale or "", summary or ""],
            body_part=body.get(issue, []),
            specialty=specialties.get(letter, []),
            **{name: value for name, value in values.items() if value},
        )
        if year is not None:
            document.add_integer("year", int(year))
        writer.add_document(document)


def _start_afresh(folder: Path, store: str) -> None:
    """Put an empty index for the store *store* at *folder*: made beside it with its store file and
    moved in whole, so no process ever opens an index there without one. Should another process
    put its own there first, that one is kept."""
    staging = folder.with_name(f"{folder.name}.new-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    tantivy.Index(_schema(), path=str(staging))
    (staging / STORE_FILE).write_text(store, encoding="utf-8")
    remove(folder)
    try:
        os.rename(staging, folder)
    except OSError:
        remove(staging)


def remove(folder: Path) -> None:
    """Drop the full-text index at *folder* (issues were deleted): the next sync builds it afresh."""
    shutil.rmtree(folder, ignore_errors=True)


class FullText:
    """The full-text index at a folder, opened at its last commit."""

    def __init__(self, folder: Path) -> None:
        self.index = tantivy.Index.open(str(folder))
        self.schema = self.index.schema
        self.searcher = self.index.searcher()

    def search(self, query: str, filters: dict[str, object], n: int) -> list[int]:
        """The ids of the *n* issues that meet *filters* (field → value; ``None`` leaves a field
        free) and best match *query*'s words, best first: BM25 over any of them, so an issue
        holding more of them ranks higher, and block-max WAND skips what cannot reach the top *n*.
        The words are term queries, never query syntax: any text is only words."""
        words = terms(query)
        if not words or n <= 0:
            return []
        hits = self.searcher.search(self._query(words, filters), n, count=False).hits
        return self._ids(hits)

    def page(self, query: str, filters: dict[str, object], offset: int, n: int) -> tuple[list[int], int]:
        """The ids of *n* issues from *offset* on that meet *filters* and match *query* as
        :meth:`search` ranks them, and how many match in all. Without words (a blank *query*) the
        issues meeting *filters* come newest first; words the index cannot hold (only punctuation)
        match nothing. Counting visits every match, which the top alone would not."""
        if not query.strip():
            result = self.searcher.search(
                self._query(None, filters), n, count=True, order_by_field="issue", offset=offset
            )
        elif words := terms(query):
            result = self.searcher.search(self._query(words, filters), n, count=True, offset=offset)
        else:
            return [], 0
        return self._ids(result.hits), int(result.count or 0)

    def _query(self, words: list[str] | None, filters: dict[str, object]) -> tantivy.Query:
        """Any of *words* (every issue when None), scored, and every filter of *filters*, unscored."""
        if words is None:
            query = tantivy.Query.all_query()
        else:
            query = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Should, clause)
                    for term in words
                    for clause in (
                        tantivy.Query.term_query(self.schema, "all", term, index_option="freq"),
                        tantivy.Query.boost_query(
                            tantivy.Query.term_query(self.schema, "item", term, index_option="freq"),
                            ITEM_BOOST,
                        ),
                    )
                ]
            )
        conditions = [  # scored 0: a filter keeps or drops an issue, it does not rank it
            tantivy.Query.const_score_query(
                tantivy.Query.term_query(
                    self.schema, field, value.lower() if isinstance(value, str) else value
                ),
                0.0,
            )
            for field, value in filters.items()
            if value is not None
        ]
        if conditions:
            query = tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in (query, *conditions)])
        return query

    def _ids(self, hits: list) -> list[int]:
        return self.searcher.fast_field_values("issue", [address for _, address in hits]) if hits else []


def terms(query: str) -> list[str]:
    """*query*'s words as the index holds them (lower case, stemmed), each once, in order."""
    return list(dict.fromkeys(_ANALYZER.analyze(query)))


@functools.lru_cache(maxsize=65_536)
def _stem(token: str) -> str:
    """One token as the index holds it ("" for one it drops)."""
    analyzed = _ANALYZER.analyze(token)
    return analyzed[0] if analyzed else ""


@dataclass(frozen=True)
class Snippet:
    """A passage of an issue's text in parts, each with whether it is one of the query's words."""

    parts: tuple[tuple[str, bool], ...] = ()

    @property
    def text(self) -> str:
        return "".join(part for part, _ in self.parts)

    @property
    def marks(self) -> list[tuple[int, int]]:
        """The start and end of each marked part in :attr:`text`."""
        spans, at = [], 0
        for part, marked in self.parts:
            if marked:
                spans.append((at, at + len(part)))
            at += len(part)
        return spans


def snippet(texts: Sequence[str | None], words: Collection[str], size: int = SNIPPET_CHARS) -> Snippet:
    """The passage of about *size* characters (white space made single spaces, cut between words)
    of the first of *texts* that holds any of *words* (as :func:`terms` gives them), those marked:
    where it holds the most of them, starting a few words before; the opening of the first text
    when none holds any. "…" stands for text left out on either side. A word matches as the index
    matched it (its token lower-cased and stemmed); only the tokens that start as a stem does are
    stemmed, so a text costs one scan by a regular expression, and the texts after the first that
    matches none."""
    found = _candidates(frozenset(words))
    best: tuple[str, list[tuple[int, int]], int] | None = None  # text, matched spans, window start
    for raw in texts:
        passage = " ".join((raw or "").split())
        candidates = found.finditer(passage) if found and passage else ()
        spans = [m.span() for m in candidates if _stem(m.group().lower()) in words]
        starts = [a for a, _ in spans]
        start, count = 0, 0
        for a in starts:  # a window starting just before each match: the first holding the most
            first = max(0, a - SNIPPET_BEFORE)
            held = bisect.bisect_left(starts, first + size) - bisect.bisect_left(starts, first)
            if held > count:
                start, count = first, held
        if passage and (best is None or count):
            best = (passage, spans, start)
        if count:
            break
    if best is None:
        return Snippet()
    passage, spans, start = best
    start = passage.rfind(" ", 0, start) + 1 if start else 0  # back to the start of its word
    end = start + size
    cut = end < len(passage)
    if cut and (space := passage.rfind(" ", start, end + 1)) > start:
        end = space
    end = min(end, len(passage))
    parts: list[tuple[str, bool]] = [("… ", False)] if start else []
    at = start
    for a, b in spans:
        if a >= start and b <= end:
            if a > at:
                parts.append((passage[at:a], False))
            parts.append((passage[a:b], True))
            at = b
    if end > at:
        parts.append((passage[at:end], False))
    if cut:
        parts.append((" …", False))
    return Snippet(tuple(parts))


@functools.lru_cache(maxsize=256)
def _candidates(words: frozenset[str]) -> re.Pattern[str] | None:
    """The tokens that may stem to one of *words*: those starting as one does, less its last
    letter (the stemmer may change it: "therapy" is "therapi"), or None for no words."""
    if not words:
        return None
    prefixes = sorted({re.escape(word[:-1] or word) for word in words}, key=len, reverse=True)
    return re.compile(rf"(?<![^\W_])(?:{'|'.join(prefixes)})[^\W_]*", re.IGNORECASE)
