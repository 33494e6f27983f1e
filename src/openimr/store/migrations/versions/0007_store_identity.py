"""The store's identity: ``store_identity`` holds one random id, made when the schema is made.

The search indexes beside a store (the full-text and the mapped index) record the id of the store
they were built from and are built afresh for any other: a store file deleted and made again, or a
database dropped and created under the same URL, gets a new id, though its issue ids start over.

Revision ID: 0007_store_identity
Revises: 0006_sign_in
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_store_identity"
down_revision: str | Sequence[str] | None = "0006_sign_in"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "store_identity",
        sa.Column("store_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_store_identity")),
    )
    op.bulk_insert(table, [{"store_id": uuid.uuid4().hex}])


def downgrade() -> None:
    op.drop_table("store_identity")
