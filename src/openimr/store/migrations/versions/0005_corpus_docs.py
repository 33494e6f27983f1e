"""The corpus full-text index over distinct documents: ``corpus_docs`` holds one row per distinct
(item, rationale, clinical summary) and ``corpus_issues.doc_id`` points at it. The FTS5 table
``corpus_doc_fts`` (rowid = ``corpus_docs.id``) replaces ``corpus_fts`` on SQLite, and
``corpus_docs.search_vector`` replaces ``corpus_issues.search_vector`` on PostgreSQL.

The corpus tables are an index of the store: both directions empty them, and the next
``sync_index`` fills them again.

Revision ID: 0005_corpus_docs
Revises: 0004_web
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_corpus_docs"
down_revision: str | Sequence[str] | None = "0004_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _empty_corpus() -> None:
    op.execute("DELETE FROM corpus_body_parts")
    op.execute("DELETE FROM corpus_issues")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _empty_corpus()
    op.create_table(
        "corpus_docs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doc_hash", sa.String(length=64), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        *([sa.Column("search_vector", postgresql.TSVECTOR(), nullable=False)] if postgres else []),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corpus_docs")),
        sa.UniqueConstraint("doc_hash", name=op.f("uq_corpus_docs_doc_hash")),
    )
    with op.batch_alter_table("corpus_issues", recreate="never" if postgres else "always") as batch:
        batch.add_column(sa.Column("doc_id", sa.Integer(), nullable=False))
        batch.create_foreign_key(
            op.f("fk_corpus_issues_doc_id_corpus_docs"), "corpus_docs", ["doc_id"], ["id"]
        )
        batch.create_index(op.f("ix_corpus_issues_doc_id"), ["doc_id"])
        if postgres:
            batch.drop_index(op.f("ix_corpus_issues_search_vector"))
            batch.drop_column("search_vector")
    if postgres:
        op.create_index(
            op.f("ix_corpus_docs_search_vector"), "corpus_docs", ["search_vector"], postgresql_using="gin"
        )
    else:
        op.execute("DROP TABLE corpus_fts")
        op.execute(
            "CREATE VIRTUAL TABLE corpus_doc_fts USING fts5("
            "item, rationale, summary, content='', tokenize='porter unicode61')"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _empty_corpus()
    with op.batch_alter_table("corpus_issues", recreate="never" if postgres else "always") as batch:
        batch.drop_index(op.f("ix_corpus_issues_doc_id"))
        batch.drop_constraint(op.f("fk_corpus_issues_doc_id_corpus_docs"), type_="foreignkey")
        batch.drop_column("doc_id")
        if postgres:
            batch.add_column(sa.Column("search_vector", postgresql.TSVECTOR(), nullable=True))
    if postgres:
        op.create_index(
            op.f("ix_corpus_issues_search_vector"), "corpus_issues", ["search_vector"], postgresql_using="gin"
        )
    else:
        op.execute("DROP TABLE corpus_doc_fts")
        op.execute(
            "CREATE VIRTUAL TABLE corpus_fts USING fts5("
            "item, rationale, summary, content='', tokenize='porter unicode61')"
        )
    op.drop_table("corpus_docs")
