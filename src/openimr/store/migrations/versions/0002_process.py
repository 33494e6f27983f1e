"""The IMR process: cases, parties, disputed items, documents, reviewers, assignments, decisions,
issued letters and the audit log; triggers make issued letters and the audit log append-only.

Revision ID: 0002_process
Revises: 0001_letters
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_process"
down_revision: str | Sequence[str] | None = "0001_letters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("issued_letters", "audit_log")


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    ref = target.split(".")[0]
    name = op.f(f"fk_{table}_{column}_{ref}")
    return sa.ForeignKeyConstraint([column], [target], name=name, ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "cases",
        _id(),
        sa.Column("case_number", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("formulary_dispute", sa.Boolean(), nullable=False),
        sa.Column("application_received", sa.Date(), nullable=False),
        sa.Column("documents_received", sa.Date(), nullable=True),
        sa.Column("date_of_injury", sa.Date(), nullable=True),
        sa.Column("ur_decision_date", sa.Date(), nullable=False),
        sa.Column("ur_decision_served", sa.Date(), nullable=True),
        sa.Column("claimant_age", sa.Integer(), nullable=True),
        sa.Column("claimant_sex", sa.String(8), nullable=True),
        sa.Column("condition_specialty", sa.String(80), nullable=True),
        sa.Column("clinical_summary", sa.Text(), nullable=False),
        sa.Column("eligibility", sa.JSON(), nullable=True),
        sa.Column("timeframe", sa.String(16), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("submitted", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("case_number", name=op.f("uq_cases_case_number")),
    )
    op.create_index(op.f("ix_cases_status"), "cases", ["status"])
    op.create_index(op.f("ix_cases_due_date"), "cases", ["due_date"])

    op.create_table(
        "case_parties",
        _id(),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("specialty", sa.String(80), nullable=True),
        _fk("case_parties", "case_id", "cases.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_parties")),
    )
    op.create_index(op.f("ix_case_parties_case_id"), "case_parties", ["case_id"])

    op.create_table(
        "disputed_items",
        _id(),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item", sa.Text(), nullable=False),
        sa.Column("original_request", sa.Text(), nullable=True),
        sa.Column("authorized", sa.Text(), nullable=True),
        sa.Column("claims_administrator_guideline", sa.Text(), nullable=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("request", sa.JSON(), nullable=True),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("eligibility_reason", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _fk("disputed_items", "case_id", "cases.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputed_items")),
        sa.UniqueConstraint("case_id", "position", name=op.f("uq_disputed_items_case_id")),
    )

    op.create_table(
        "document_blobs",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_document_blobs")),
    )
    op.create_table(
        "case_documents",
        _id(),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("doc_type", sa.String(40), nullable=False),
        sa.Column("received", sa.Date(), nullable=False),
        _fk("case_documents", "case_id", "cases.id", "CASCADE"),
        _fk("case_documents", "sha256", "document_blobs.sha256"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_documents")),
        sa.UniqueConstraint("case_id", "sha256", name=op.f("uq_case_documents_case_id")),
    )

    op.create_table(
        "reviewers",
        _id(),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("licenses", sa.JSON(), nullable=False),
        sa.Column("specialties", sa.JSON(), nullable=False),
        sa.Column("active_practice_since", sa.Date(), nullable=False),
        sa.Column("weekly_clinical_hours", sa.Float(), nullable=False),
        sa.Column("affiliations", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviewers")),
        sa.UniqueConstraint("code", name=op.f("uq_reviewers_code")),
    )

    op.create_table(
        "assignments",
        _id(),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("assigned_on", sa.Date(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        _fk("assignments", "case_id", "cases.id", "CASCADE"),
        _fk("assignments", "reviewer_id", "reviewers.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
        sa.UniqueConstraint("case_id", name=op.f("uq_assignments_case_id")),
    )
    op.create_index(op.f("ix_assignments_reviewer_id"), "assignments", ["reviewer_id"])

    op.create_table(
        "item_decisions",
        _id(),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("guideline", sa.Text(), nullable=False),
        sa.Column("evidence_level", sa.String(1), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("decision IN ('Upheld', 'Overturned')", name=op.f("ck_item_decisions_decision")),
        sa.CheckConstraint(
            "evidence_level IN ('A', 'B', 'C', 'D', 'E', 'F')", name=op.f("ck_item_decisions_level")
        ),
        _fk("item_decisions", "item_id", "disputed_items.id", "CASCADE"),
        _fk("item_decisions", "reviewer_id", "reviewers.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_decisions")),
        sa.UniqueConstraint("item_id", name=op.f("uq_item_decisions_item_id")),
    )

    op.create_table(
        "issued_letters",
        _id(),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(80), nullable=False),
        _fk("issued_letters", "case_id", "cases.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_letters")),
        sa.UniqueConstraint("case_id", name=op.f("uq_issued_letters_case_id")),
    )

    op.create_table(
        "audit_log",
        _id(),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("case_number", sa.String(16), nullable=True),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("entity_key", sa.String(80), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_case_number"), "audit_log", ["case_number"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION openimr_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION openimr_append_only()"
            )
    else:
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION openimr_append_only()")
    for table in (
        "audit_log",
        "issued_letters",
        "item_decisions",
        "assignments",
        "reviewers",
        "case_documents",
        "document_blobs",
        "disputed_items",
        "case_parties",
        "cases",
    ):
        op.drop_table(table)
