"""Console sign-in: attempts counted per client address

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import registry.db

revision: str = "0021"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_sign_in_attempts",
        sa.Column(
            "address",
            sa.String(length=64),
            nullable=False,
            comment="client address as the proxy passed it",
        ),
        sa.Column(
            "window_start",
            registry.db.UTCDateTime(timezone=True),
            nullable=False,
            comment="the minute counted",
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("address", "window_start", name=op.f("pk_staff_sign_in_attempts")),
    )


def downgrade() -> None:
    op.drop_table("staff_sign_in_attempts")
