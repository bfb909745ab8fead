"""Console sign-in: TOTP seed, last used step, failed-login counter and lockout on staff users

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import registry.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain add/drop column: staff_user_roles references staff_users with ON DELETE CASCADE, and
# a SQLite batch rebuild of staff_users would drop and recreate the table under it.
def upgrade() -> None:
    op.add_column(
        "staff_users",
        sa.Column("totp_secret", sa.Text(), nullable=True, comment="sealed TOTP seed"),
    )
    op.add_column("staff_users", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.add_column(
        "staff_users",
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "staff_users",
        sa.Column("locked_until", registry.db.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("staff_users", "locked_until")
    op.drop_column("staff_users", "failed_logins")
    op.drop_column("staff_users", "totp_last_step")
    op.drop_column("staff_users", "totp_secret")
