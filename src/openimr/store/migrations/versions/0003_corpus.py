"""The decision corpus: per-issue search features, body parts, text embeddings and the full-text index
(an FTS5 table on SQLite, a weighted tsvector with a GIN index on PostgreSQL).

Revision ID: 0003_corpus
Revises: 0002_process
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_corpus"
down_revision: str | Sequence[str] | None = "0002_process"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "corpus_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("family", sa.String(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("drug_name", sa.String(), nullable=True),
        sa.Column("drug_class", sa.String(), nullable=True),
        sa.Column("sessions", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        *([sa.Column("search_vector", postgresql.TSVECTOR(), nullable=True)] if postgres else []),
        sa.ForeignKeyConstraint(
            ["letter_id", "position"],
            ["letter_issues.letter_id", "letter_issues.position"],
            name=op.f("fk_corpus_issues_letter_id_letter_issues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corpus_issues")),
        sa.UniqueConstraint("letter_id", "position", name=op.f("uq_corpus_issues_letter_id")),
    )
    for column in ("category", "family", "year", "drug_class", "decision", "text_hash"):
        op.create_index(op.f(f"ix_corpus_issues_{column}"), "corpus_issues", [column])
    op.create_table(
        "corpus_body_parts",
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"],
            ["corpus_issues.id"],
            name=op.f("fk_corpus_body_parts_issue_id_corpus_issues"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("issue_id", "name", name=op.f("pk_corpus_body_parts")),
    )
    op.create_index(op.f("ix_corpus_body_parts_name"), "corpus_body_parts", ["name", "issue_id"])
    op.create_table(
        "corpus_embeddings",
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("text_hash", "model", name=op.f("pk_corpus_embeddings")),
    )
    if postgres:
        op.create_index(
            op.f("ix_corpus_issues_search_vector"), "corpus_issues", ["search_vector"], postgresql_using="gin"
        )
    else:
        op.execute(
            "CREATE VIRTUAL TABLE corpus_fts USING fts5("
            "item, rationale, summary, content='', tokenize='porter unicode61')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE corpus_fts")
    for name in ("corpus_embeddings", "corpus_body_parts", "corpus_issues"):
        op.drop_table(name)
