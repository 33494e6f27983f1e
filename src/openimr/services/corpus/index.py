"""Keeping the corpus index in step with the store.

:func:`sync_index` adds every stored issue that the corpus tables do not have yet, in batches of
one transaction each: its features, body parts and its document (item, rationale and clinical
summary; the store's full-text index holds each distinct document once). Running it again adds
nothing (maxima and the last letters' counts tell it so, without a scan), and a run that was
interrupted is finished by the next one.

:func:`build_mapped` writes the *mapped index* the search reads: the filter columns as integer
codes, issues grouped by item text, body parts and reviewer specialties as position lists, and the
item texts' embeddings (each text embedded once, stored in ``corpus_embeddings``) in lists around
spherical k-means centroids, all as ``.npy`` files in a folder beside a SQLite store
(:func:`index_dir`) that a process maps rather than loads. A build writes a new version folder and
then switches the ``current`` pointer, so readers never see half of one. :func:`ensure_mapped`
brings the full-text index (:mod:`openimr.services.corpus.fulltext`, in ``text-v1/`` of the same
folder) up to date by adding the new issues, and builds the mapped index only when the corpus's
highest issue id or the embedding model has changed since.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, Engine, func, insert, select, text, tuple_
from sqlalchemy.exc import IntegrityError

from openimr.services.corpus import embeddings, fulltext
from openimr.services.settings import Settings

BATCH = 5000
MAPPED_VERSION = 3
EXACT_VECTORS = 50_000  # up to this many item texts, vectors are searched exhaustively


@lru_cache(maxsize=4096)
def _family(guideline: str | None) -> str:
    from openimr.core.families import guideline_family

    return guideline_family(guideline)


TAIL = 1000  # letters below the highest indexed one whose issues are counted again on each sync
_HIGHEST = "SELECT (SELECT max(letter_id) FROM letter_issues), (SELECT max(letter_id) FROM corpus_issues)"
_TAIL = (
    "SELECT (SELECT count(*) FROM letter_issues WHERE letter_id > :low),"
    " (SELECT count(*) FROM corpus_issues WHERE letter_id > :low)"
)
_PG_DOC = text(
    "INSERT INTO corpus_docs (doc_hash, text_hash, search_vector) VALUES (:doc_hash, :text_hash,"
    " setweight(to_tsvector('english', CAST(:item AS text)), 'A')"
    " || setweight(to_tsvector('english', CAST(:rationale AS text)), 'B')"
    " || setweight(to_tsvector('english', CAST(:summary AS text)), 'C'))"
)
_SQLITE_FTS = text(
    "INSERT INTO corpus_doc_fts (rowid, item, rationale, summary) VALUES (:id, :item, :rationale, :summary)"
)


def doc_hash(item: str, rationale: str, summary: str) -> str:
    """The SHA-256 (hex) of a full-text document: an issue's item, rationale and clinical summary."""
    return hashlib.sha256("\0".join((item, rationale, summary)).encode("utf-8")).hexdigest()


def _pending(conn: Connection, after: tuple[int, int], limit: int):
    """Stored issues after *after* (letter id, position) that the corpus lacks, in key order."""
    from openimr.store.schema import IssueRow, LetterRow, corpus_issues

    indexed = select(corpus_issues.c.id).where(
        corpus_issues.c.letter_id == IssueRow.letter_id, corpus_issues.c.position == IssueRow.position
    )
    query = (
        select(
            IssueRow.letter_id,
            IssueRow.position,
            IssueRow.item,
            IssueRow.decision,
            IssueRow.imro_guideline,
            LetterRow.decision_date,
            IssueRow.rationale,
            LetterRow.clinical_summary,
        )
        .join(LetterRow, LetterRow.id == IssueRow.letter_id)
        .where(tuple_(IssueRow.letter_id, IssueRow.position) > tuple_(*after), ~indexed.exists())
        .order_by(IssueRow.letter_id, IssueRow.position)
        .limit(limit)
    )
    return conn.execute(query).all()


def _add_docs(conn: Connection, docs: dict[str, dict]) -> dict[str, int]:
    """The ids of *docs* (by hash), adding those not stored yet with their full-text entries."""
    from openimr.store.schema import corpus_docs

    stored = corpus_docs.c.doc_hash.in_(list(docs))
    ids = dict(conn.execute(select(corpus_docs.c.doc_hash, corpus_docs.c.id).where(stored)).all())
    new = [doc for key, doc in docs.items() if key not in ids]
    if not new:
        return ids
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_DOC, new)
    else:
        conn.execute(
            insert(corpus_docs), [{"doc_hash": d["doc_hash"], "text_hash": d["text_hash"]} for d in new]
        )
    ids = dict(conn.execute(select(corpus_docs.c.doc_hash, corpus_docs.c.id).where(stored)).all())
    if conn.dialect.name != "postgresql":
        conn.execute(_SQLITE_FTS, [{**doc, "id": ids[doc["doc_hash"]]} for doc in new])
    return ids


def _add_batch(conn: Connection, rows) -> None:
    """Index *rows* of :func:`_pending` inside the caller's transaction."""
    from openimr.services.corpus.features import item_features, text_hash
    from openimr.store.schema import corpus_body_parts, corpus_issues

    values, docs = [], {}
    for letter_id, position, item, decision, guideline, decided, rationale, summary in rows:
        features = item_features(item)
        texts = {"item": item, "rationale": rationale or "", "summary": summary or ""}
        key = doc_hash(*texts.values())
        docs.setdefault(key, {"doc_hash": key, "text_hash": text_hash(item), **texts})
        values.append(
            {
                "letter_id": letter_id,
                "position": position,
                "decision": decision,
                "family": _family(guideline),
                "year": decided.year if decided else None,
                "category": features.category,
                "drug_name": features.drug_name,
                "drug_class": features.drug_class,
                "sessions": features.sessions,
                "quantity": features.quantity,
                "text_hash": docs[key]["text_hash"],
                "doc_id": key,
            }
        )
    doc_ids = _add_docs(conn, docs)
    for value in values:
        value["doc_id"] = doc_ids[value["doc_id"]]
    ids = (
        conn.execute(
            insert(corpus_issues).returning(corpus_issues.c.id, sort_by_parameter_order=True), values
        )
        .scalars()
        .all()
    )
    parts = [
        {"issue_id": issue_id, "name": name}
        for issue_id, row in zip(ids, rows, strict=True)
        for name in item_features(row.item).body
    ]
    if parts:
        conn.execute(insert(corpus_body_parts), parts)


def _behind(engine: Engine) -> int | None:
    """None when the corpus holds every stored issue, else the letter id after which the issues it
    lacks are. Read off two maxima and the issue counts of the :data:`TAIL` letters below the
    highest indexed one, all on indexes: no scan of the issues, which costs seconds at millions on
    PostgreSQL. The corpus fills in letter order, so what it lacks is above the highest letter it
    has, or in the tail when a letter commits after a higher-numbered one (concurrent ingest, Dask);
    deleting a letter deletes its corpus rows too."""
    with engine.connect() as conn:
        stored, indexed = conn.execute(text(_HIGHEST)).one()
        low = (indexed or 0) - TAIL
        if stored == indexed and len(set(conn.execute(text(_TAIL), {"low": low}).one())) == 1:
            return None
    return low if indexed is not None else -1


def sync_index(engine: Engine, *, embed: bool = False, batch: int = BATCH) -> int:
    """Index the stored issues the corpus lacks; returns how many were added.

    With *embed*, the mapped index is brought up to date too (:func:`ensure_mapped`: item texts
    without an embedding are embedded then), else the first search does it.
    """
    low = _behind(engine)
    if low is None:
        if embed:
            ensure_mapped(engine)
        return 0
    added, after = 0, (low, -1)
    while True:
        try:
            with engine.begin() as conn:
                rows = _pending(conn, after, batch)
                if rows:
                    _add_batch(conn, rows)
        except IntegrityError:
            continue  # a concurrent run indexed some of these first: take the batch again
        if not rows:
            break
        added += len(rows)
        after = (rows[-1].letter_id, rows[-1].position)
    if added >= batch:
        with engine.begin() as conn:  # fresh statistics, so queries (and _behind's) pick the index
            conn.execute(text("ANALYZE letter_issues"))
            conn.execute(text("ANALYZE corpus_issues"))
            conn.execute(text("ANALYZE corpus_body_parts"))
            conn.execute(text("ANALYZE corpus_docs"))
    if embed:
        ensure_mapped(engine)
    return added


def ensure_mapped(engine: Engine) -> Path:
    """The folder of *engine*'s current mapped index, built first when the corpus has changed; the
    full-text index gets the issues it lacks first."""
    fulltext.sync(engine, text_dir(engine))
    found = current_meta(index_dir(engine))
    with engine.connect() as conn:
        high = conn.scalar(text("SELECT max(id) FROM corpus_issues"))
        store = fulltext.store_id(conn)
    if found and mapped_is_current(found[1], high, store):
        return found[0]
    return build_mapped(engine)


def embed_missing(engine: Engine, batch: int = 8192, after_id: int = 0) -> int:
    """Embed every item text of the indexed issues after *after_id* that has no embedding yet;
    returns how many were added."""
    from openimr.store.schema import IssueRow, corpus_embeddings, corpus_issues

    model = embeddings.MODEL
    stored = select(corpus_embeddings.c.text_hash).where(
        corpus_embeddings.c.text_hash == corpus_issues.c.text_hash, corpus_embeddings.c.model == model
    )
    query = (
        select(corpus_issues.c.text_hash, func.min(IssueRow.item))
        .join(
            IssueRow,
            (IssueRow.letter_id == corpus_issues.c.letter_id)
            & (IssueRow.position == corpus_issues.c.position),
        )
        .where(corpus_issues.c.id > after_id, ~stored.exists())
        .group_by(corpus_issues.c.text_hash)
    )
    with engine.connect() as conn:
        missing = conn.execute(query).all()
    add = _insert_ignoring_duplicates(conn.dialect.name)
    for start in range(0, len(missing), batch):
        chunk = missing[start : start + batch]
        vectors = embeddings.embed([item for _, item in chunk])
        with engine.begin() as conn:
            conn.execute(
                add,
                [
                    {"text_hash": h, "model": model, "vector": embeddings.to_bytes(v)}
                    for (h, _), v in zip(chunk, vectors, strict=True)
                ],
            )
    return len(missing)


def _insert_ignoring_duplicates(dialect: str):
    """An embeddings insert that skips a text embedded meanwhile by a concurrent run."""
    from sqlalchemy.dialects import postgresql, sqlite

    from openimr.store.schema import corpus_embeddings

    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(corpus_embeddings).on_conflict_do_nothing()


# --- The mapped index: the search's columns and vectors as numpy files beside the store.


def index_dir(engine: Engine) -> Path:
    """Where the mapped index of *engine*'s store lives: ``<file>.index`` beside a SQLite file,
    else a folder named by the URL under the settings' ``index_dir`` (``$OPENIMR_INDEX_DIR``, default
    ``~/.cache/openimr/index``)."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).with_name(Path(url.database).name + ".index")
    root = Settings.from_env().index_dir
    if url.get_backend_name() == "sqlite":  # an in-memory database: this engine's own folder
        return root / f"memory-{os.getpid()}-{id(engine)}"
    key = hashlib.sha256(url.render_as_string(hide_password=True).encode("utf-8")).hexdigest()[:20]
    return root / key


def text_dir(engine: Engine) -> Path:
    """Where the full-text index of *engine*'s store lives: ``text-v<version>/`` in :func:`index_dir`
    (an older version's folder is removed with the old mapped indexes)."""
    return index_dir(engine) / f"text-v{fulltext.VERSION}"


def current_meta(directory: Path) -> tuple[Path, dict] | None:
    """The folder and metadata of the mapped index now in use under *directory*, if any."""
    try:
        version = directory / (directory / "current").read_text(encoding="utf-8").strip()
        return version, json.loads((version / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def mapped_is_current(meta: dict | None, high: int | None, store: str) -> bool:
    """Whether a mapped index with *meta* covers the corpus whose highest issue id is *high* in the
    store whose id is *store* (an index built from another store never is)."""
    return (
        bool(meta)
        and meta.get("version") == MAPPED_VERSION
        and meta.get("store") == store
        and meta["high"] == high
        and (meta["model"] == embeddings.MODEL)
    )


def invalidate_mapped(engine: Engine) -> None:
    """Mark *engine*'s indexes stale (issues were deleted): the next search builds them again."""
    (index_dir(engine) / "current").unlink(missing_ok=True)
    fulltext.remove(text_dir(engine))


_ISSUE_COLUMNS = (
    "SELECT id, text_hash, lower(decision), lower(family), category, drug_class, year, letter_id"
    " FROM corpus_issues WHERE id <= :high ORDER BY id"
)
_BODY = "SELECT issue_id, name FROM corpus_body_parts WHERE issue_id <= :high"
_SPECIALTIES = "SELECT DISTINCT letter_id, lower(specialty) FROM letter_specialties"
FILTER_COLUMNS = ("decision", "family", "category", "drug_class", "year")


def _codes(values: list) -> tuple[np.ndarray, list]:
    """Dense int32 codes of *values* and the distinct values in code order."""
    vocab: dict = {}
    codes = np.fromiter((vocab.setdefault(v, len(vocab)) for v in values), dtype=np.int32, count=len(values))
    return codes, list(vocab)


def _grouped(codes: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions ordered by *codes* (stable) and where each code's run starts (``groups + 1``)."""
    order = np.argsort(codes, kind="stable").astype(np.int32)
    return order, np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=groups))]).astype(np.int64)


def _by_value(positions: np.ndarray, values: list) -> tuple[np.ndarray, dict[str, list[int]]]:
    """*positions* grouped by their *values*, and each value's [start, end) in the result."""
    codes, names = _codes(values)
    order, starts = _grouped(codes, len(names))
    bounds = starts.tolist()
    return positions[order].astype(np.int32), {n: bounds[i : i + 2] for i, n in enumerate(names)}


def _kmeans(vectors: np.ndarray, lists: int, rounds: int = 8, seed: int = 0) -> np.ndarray:
    """Spherical k-means centroids (unit rows) of *vectors*, trained on a sample."""
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(len(vectors), min(len(vectors), 48 * lists), replace=False)]
    centroids = sample[rng.choice(len(sample), lists, replace=False)].copy()
    for _ in range(rounds):
        nearest = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, nearest, sample)
        empty = ~sums.any(axis=1)
        sums[empty] = sample[rng.choice(len(sample), int(empty.sum()))]
        centroids = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    return centroids.astype(np.float32)


def _assign(vectors: np.ndarray, centroids: np.ndarray, chunk: int = 65536) -> np.ndarray:
    return np.concatenate(
        [np.argmax(vectors[i : i + chunk] @ centroids.T, axis=1) for i in range(0, len(vectors), chunk)]
        or [np.zeros(0, dtype=np.int64)]
    )


def _vectors_by_hash(conn: Connection, hashes: list[str]) -> np.ndarray:
    """The stored embedding of each text hash (in *hashes*' order; zero where there is none)."""
    from openimr.store.schema import corpus_embeddings

    rows = conn.execute(
        select(corpus_embeddings.c.text_hash, corpus_embeddings.c.vector).where(
            corpus_embeddings.c.model == embeddings.MODEL
        )
    ).all()
    row_of = {h: i for i, (h, _) in enumerate(rows)}
    stored = embeddings.from_bytes([v for _, v in rows])
    at = np.array([row_of.get(h, -1) for h in hashes], dtype=np.int64)
    out = np.zeros((len(hashes), embeddings.DIM), dtype=np.float32)
    out[at >= 0] = stored[at[at >= 0]]
    return out


def build_mapped(engine: Engine) -> Path:
    """Write *engine*'s mapped index afresh (embedding the texts that lack a vector first) and make
    it current; returns its folder. Readers of the previous one keep their mapped files."""
    directory = index_dir(engine)
    previous = current_meta(directory)
    with engine.connect() as conn:
        high = conn.scalar(text("SELECT max(id) FROM corpus_issues"))
        store = fulltext.store_id(conn)
    if embeddings.available():  # texts up to the previous index's highest issue have their vectors
        same = previous and previous[1].get("store") == store and previous[1]["model"] == embeddings.MODEL
        embedded = same and previous[1]["lists"]
        embed_missing(engine, after_id=(previous[1]["high"] or 0) if embedded else 0)
    with engine.connect() as conn:
        rows = conn.execute(text(_ISSUE_COLUMNS), {"high": high or 0}).all()
        body = conn.execute(text(_BODY), {"high": high or 0}).all()
        specialties = conn.execute(text(_SPECIALTIES)).all()
        columns = list(zip(*rows, strict=True)) if rows else [()] * 8
        ids = np.array(columns[0], dtype=np.int64)
        issue_text, hashes = _codes(list(columns[1]))
        vectors = _vectors_by_hash(conn, hashes) if embeddings.available() else None
    arrays: dict[str, np.ndarray] = {"ids": ids, "issue_text": issue_text}
    arrays["text_order"], arrays["text_starts"] = _grouped(issue_text, len(hashes))
    vocab = {}
    for name, values in zip(FILTER_COLUMNS, columns[2:7], strict=True):
        arrays[name], vocab[name] = _codes(list(values))
    groups = {}
    owners = np.searchsorted(ids, np.array([b[0] for b in body], dtype=np.int64))
    arrays["body_positions"], groups["body"] = _by_value(owners, [b[1] for b in body])
    letters = np.array(columns[7], dtype=np.int64)
    order = np.argsort(letters, kind="stable")
    wanted = np.array([s[0] for s in specialties], dtype=np.int64)
    lo = np.searchsorted(letters[order], wanted)
    sizes = np.searchsorted(letters[order], wanted, side="right") - lo
    starts = np.repeat(lo - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))
    names = [name for (_, name), n in zip(specialties, sizes.tolist(), strict=True) for _ in range(n)]
    arrays["specialty_positions"], groups["specialty"] = _by_value(order[starts], names)
    meta = {
        "version": MAPPED_VERSION,
        "store": store,
        "high": high,
        "issues": len(ids),
        "model": embeddings.MODEL,
        "vocab": vocab,
        "groups": groups,
        "lists": 0,
    }
    if vectors is not None:
        lists = int(np.sqrt(len(vectors))) if len(vectors) > EXACT_VECTORS else 1
        centroids = _kmeans(vectors, lists) if lists > 1 else np.zeros((1, embeddings.DIM), np.float32)
        assigned = _assign(vectors, centroids) if lists > 1 else np.zeros(len(vectors), dtype=np.int64)
        order, starts = _grouped(assigned.astype(np.int32), lists)
        arrays["centroids"], arrays["list_starts"] = centroids, starts
        arrays["list_texts"] = order  # the text code of each row of list_vectors
        arrays["list_vectors"] = vectors[order]
        arrays["text_row"] = np.argsort(order).astype(np.int32)
        meta["lists"] = lists
    version = directory / f"{high or 0}-{uuid.uuid4().hex[:12]}"
    version.mkdir(parents=True)
    for name, array in arrays.items():
        np.save(version / f"{name}.npy", np.ascontiguousarray(array))
    (version / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    pointer = directory / f"current.{uuid.uuid4().hex[:8]}"
    pointer.write_text(version.name, encoding="utf-8")
    os.replace(pointer, directory / "current")
    for old in directory.iterdir():  # a minute's grace: another process may be writing its own
        stale = old.is_dir() and old not in (version, text_dir(engine))
        if stale and time.time() - old.stat().st_mtime > 60:
            shutil.rmtree(old, ignore_errors=True)
    return version
