"""Letters, their issues and their reviewers' credentials.

Revision ID: 0001_letters
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_letters"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _child(name: str, *items: sa.SchemaItem) -> None:
    """A table of a letter's ordered parts (issues, license states, specialties)."""
    op.create_table(
        name,
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        *items,
        sa.ForeignKeyConstraint(
            ["letter_id"], ["letters.id"], name=op.f(f"fk_{name}_letter_id_letters"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("letter_id", "position", name=op.f(f"pk_{name}")),
    )


def upgrade() -> None:
    op.create_table(
        "letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("file", sa.String(), nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("case_number", sa.String(), nullable=True),
        sa.Column("date_assigned", sa.Date(), nullable=True),
        sa.Column("date_of_injury", sa.Date(), nullable=True),
        sa.Column("decision_date", sa.Date(), nullable=True),
        sa.Column("ur_denial_date", sa.Date(), nullable=True),
        sa.Column("application_received", sa.Date(), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("claimant_age", sa.Integer(), nullable=True),
        sa.Column("claimant_sex", sa.String(length=8), nullable=True),
        sa.Column("clinical_summary", sa.Text(), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("claimant_sex IN ('male', 'female')", name=op.f("ck_letters_claimant_sex")),
        sa.CheckConstraint("priority IN ('Standard', 'Expedited')", name=op.f("ck_letters_priority")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letters")),
        sa.UniqueConstraint("key", name=op.f("uq_letters_key")),
    )
    op.create_index(op.f("ix_letters_case_number"), "letters", ["case_number"])
    op.create_index(op.f("ix_letters_decision_date"), "letters", ["decision_date"])
    op.create_index(op.f("ix_letters_source_hash"), "letters", ["source_hash"])

    _child(
        "letter_issues",
        sa.Column("item", sa.Text(), nullable=False),
        sa.Column("original_request", sa.Text(), nullable=True),
        sa.Column("authorized", sa.Text(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("claims_administrator_guideline", sa.Text(), nullable=True),
        sa.Column("imro_guideline", sa.Text(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.CheckConstraint("decision IN ('Upheld', 'Overturned')", name=op.f("ck_letter_issues_decision")),
    )
    op.create_index(op.f("ix_letter_issues_decision"), "letter_issues", ["decision"])

    _child("letter_license_states", sa.Column("state", sa.String(), nullable=False))
    _child("letter_specialties", sa.Column("specialty", sa.String(), nullable=False))
    op.create_index(op.f("ix_letter_specialties_specialty"), "letter_specialties", ["specialty"])


def downgrade() -> None:
    for name in ("letter_specialties", "letter_license_states", "letter_issues", "letters"):
        op.drop_table(name)
