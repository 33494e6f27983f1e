"""Keeping the corpus index in step with the store.

:func:`sync_index` adds every stored issue that the corpus tables do not have yet, in batches of
one transaction each: its features, body parts, its document (item, rationale and clinical
summary; the full-text index holds each distinct document once) and (when the embedding model is
installed and asked for) the embedding of its item text. Running it again adds nothing, and a run
that was interrupted is finished by the next one.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from sqlalchemy import Connection, Engine, func, insert, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from openimr.core.families import guideline_family
from openimr.services.corpus import embeddings
from openimr.services.corpus.features import item_features, text_hash
from openimr.store.schema import (
    IssueRow,
    LetterRow,
    corpus_body_parts,
    corpus_docs,
    corpus_embeddings,
    corpus_issues,
)

BATCH = 5000
_family = lru_cache(maxsize=4096)(guideline_family)

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


def sync_index(engine: Engine, *, embed: bool = False, batch: int = BATCH) -> int:
    """Index the stored issues the corpus lacks; returns how many were added.

    With *embed*, item texts without an embedding are embedded too (the model must be installed).
    """
    added = 0
    after = (-1, -1)
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
        with engine.begin() as conn:  # fresh statistics, so filtered queries pick the selective index
            conn.execute(text("ANALYZE corpus_issues"))
            conn.execute(text("ANALYZE corpus_body_parts"))
            conn.execute(text("ANALYZE corpus_docs"))
    if embed:
        embed_missing(engine)
    return added


def embed_missing(engine: Engine, batch: int = 1024) -> int:
    """Embed every indexed item text that has no embedding yet; returns how many were added."""
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
        .where(~stored.exists())
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
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(corpus_embeddings).on_conflict_do_nothing()
