"""Sign-in throttling and token lifetimes: ``web_sign_in_failures`` records each failed sign-in,
and ``web_tokens`` gains ``expires_at``, ``revoked_at`` and ``last_used_at``.

Tokens issued before this revision expire 30 days after the upgrade.

Revision ID: 0006_sign_in
Revises: 0005_corpus_docs
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_sign_in"
down_revision: str | Sequence[str] | None = "0005_corpus_docs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXISTING_TOKEN_DAYS = 30


def upgrade() -> None:
    op.create_table(
        "web_sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sign_in_failures")),
    )
    for column in ("at", "username", "address"):
        op.create_index(op.f(f"ix_web_sign_in_failures_{column}"), "web_sign_in_failures", [column])
    with op.batch_alter_table("web_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    tokens = sa.table("web_tokens", sa.column("expires_at", sa.DateTime(timezone=True)))
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=EXISTING_TOKEN_DAYS)
    op.execute(tokens.update().values(expires_at=expires))
    with op.batch_alter_table("web_tokens") as batch:
        batch.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("web_tokens") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("revoked_at")
        batch.drop_column("expires_at")
    for column in ("address", "username", "at"):
        op.drop_index(op.f(f"ix_web_sign_in_failures_{column}"), table_name="web_sign_in_failures")
    op.drop_table("web_sign_in_failures")
