"""Keeping the corpus index in step with the store.

:func:`sync_index` adds every stored issue that the corpus tables do not have yet, in batches of
one transaction each: its features, body parts, full-text entry and (when the embedding model is
installed and asked for) the embedding of its item text. Running it again adds nothing, and a run
that was interrupted is finished by the next one.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Connection, Engine, func, insert, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from openimr.corpus import embeddings
from openimr.corpus.features import item_features, text_hash
from openimr.corpus.schema import corpus_body_parts, corpus_embeddings, corpus_issues
from openimr.store.families import guideline_family
from openimr.store.tables import IssueRow, LetterRow

BATCH = 5000
_family = lru_cache(maxsize=4096)(guideline_family)

_PG_VECTOR = text(
    "UPDATE corpus_issues AS ci SET search_vector ="
    " setweight(to_tsvector('english', li.item), 'A')"
    " || setweight(to_tsvector('english', coalesce(li.rationale, '')), 'B')"
    " || setweight(to_tsvector('english', coalesce(l.clinical_summary, '')), 'C')"
    " FROM letter_issues AS li, letters AS l"
    " WHERE li.letter_id = ci.letter_id AND li.position = ci.position AND l.id = ci.letter_id"
    " AND ci.id BETWEEN :lo AND :hi AND ci.search_vector IS NULL"
)
_SQLITE_FTS = text(
    "INSERT INTO corpus_fts (rowid, item, rationale, summary)"
    " SELECT ci.id, li.item, coalesce(li.rationale, ''), coalesce(l.clinical_summary, '')"
    " FROM corpus_issues AS ci"
    " JOIN letter_issues AS li ON li.letter_id = ci.letter_id AND li.position = ci.position"
    " JOIN letters AS l ON l.id = ci.letter_id"
    " WHERE ci.id BETWEEN :lo AND :hi"
)


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
        )
        .join(LetterRow, LetterRow.id == IssueRow.letter_id)
        .where(tuple_(IssueRow.letter_id, IssueRow.position) > tuple_(*after), ~indexed.exists())
        .order_by(IssueRow.letter_id, IssueRow.position)
        .limit(limit)
    )
    return conn.execute(query).all()


def _add_batch(conn: Connection, rows) -> None:
    """Index *rows* of :func:`_pending` inside the caller's transaction."""
    values = []
    for letter_id, position, item, decision, guideline, decided in rows:
        features = item_features(item)
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
                "text_hash": text_hash(item),
            }
        )
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
    statement = _PG_VECTOR if conn.dialect.name == "postgresql" else _SQLITE_FTS
    conn.execute(statement, {"lo": min(ids), "hi": max(ids)})


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
