"""Staff passwords: a must-change flag and the time of the last change or reset

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27 09:00:00

Existing accounts start without the flag: their passwords were set before the registry could
ask for a change, and an administrator who doubts one resets it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import registry.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain add/drop column, as in 0017: a SQLite batch rebuild of staff_users would drop and
# recreate the table under staff_user_roles' ON DELETE CASCADE.
def upgrade() -> None:
    op.add_column(
        "staff_users",
        sa.Column(
            "password_change_required",
            sa.Boolean(),
            server_default=sa.false(),
            nullable=False,
            comment="set while the password is one an administrator made or reset",
        ),
    )
    op.add_column(
        "staff_users",
        sa.Column(
            "password_changed_at",
            registry.db.UTCDateTime(timezone=True),
            nullable=True,
            comment="when the password was last changed by the person or reset",
        ),
    )


def downgrade() -> None:
    op.drop_column("staff_users", "password_changed_at")
    op.drop_column("staff_users", "password_change_required")
