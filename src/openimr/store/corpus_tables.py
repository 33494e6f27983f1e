"""The corpus tables (migration ``0003_corpus``) as SQLAlchemy Core tables.

``corpus_issues`` holds one row per stored issue with what search, statistics and similar-case
look-ups filter on; ``corpus_docs`` one row per distinct document (item, rationale and clinical
summary together), which the full-text index covers; ``corpus_body_parts`` the issue's body parts
and their regions; ``corpus_embeddings`` one sentence embedding per distinct item text. The
full-text index is the FTS5 table ``corpus_doc_fts`` on SQLite (rowid = ``corpus_docs.id``) and
the ``corpus_docs.search_vector`` column on PostgreSQL, created by the migrations only.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, ForeignKeyConstraint, Integer, LargeBinary, String, Table

from openimr.store.base import Base

corpus_docs = Table(
    "corpus_docs",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("doc_hash", String(64), nullable=False, unique=True),
    Column("text_hash", String(64), nullable=False),
)

corpus_issues = Table(
    "corpus_issues",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("letter_id", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("family", String, nullable=False),
    Column("year", Integer),
    Column("category", String(32), nullable=False),
    Column("drug_name", String),
    Column("drug_class", String),
    Column("sessions", Integer),
    Column("quantity", Float),
    Column("text_hash", String(64), nullable=False),
    Column("doc_id", ForeignKey("corpus_docs.id"), nullable=False, index=True),
    ForeignKeyConstraint(
        ["letter_id", "position"], ["letter_issues.letter_id", "letter_issues.position"], ondelete="CASCADE"
    ),
)

corpus_body_parts = Table(
    "corpus_body_parts",
    Base.metadata,
    Column("issue_id", ForeignKey("corpus_issues.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String, primary_key=True),
)

corpus_embeddings = Table(
    "corpus_embeddings",
    Base.metadata,
    Column("text_hash", String(64), primary_key=True),
    Column("model", String, primary_key=True),
    Column("vector", LargeBinary, nullable=False),
)
