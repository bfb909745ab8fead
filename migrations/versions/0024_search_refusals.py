"""Search: the subjects whose current document the engine refused

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 09:00:00

The worker used to roll back a whole batch when the engine refused one document, so that
document's outbox row stayed first in line and held up every row behind it. Now the row is
done and the refusal is kept here, for `search verify` and readiness to show, until a write
of the subject succeeds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import registry.db

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_refusals",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column(
            "version",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="the revision refused",
        ),
        sa.Column(
            "status", sa.Integer(), nullable=False, comment="the engine's HTTP status for the item"
        ),
        sa.Column("error_type", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, comment="the engine's reason, cut short"),
        sa.Column("refused_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_search_refusals")),
    )


def downgrade() -> None:
    op.drop_table("search_refusals")
