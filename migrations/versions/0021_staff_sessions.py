"""Console sessions: a generation per account; sign-in attempts per client address, failures
per username and address

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 09:00:00

Signing out raises staff_users.session_generation, which every session carries: a session
(or a copy of its cookie) issued before no longer loads. Sessions issued before the upgrade
carry no generation and end with it.

The account-wide lockout goes (staff_users.failed_logins and locked_until): anybody could
lock anybody out by guessing. Accounts locked at the upgrade are free again; the guesses made
so far are not carried over, since they were not counted per address.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import registry.db

revision: str = "0021"
down_revision: str | None = "0020"
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

    op.create_table(
        "staff_sign_in_failures",
        sa.Column(
            "username_key",
            sa.String(length=64),
            nullable=False,
            comment="keyed hash of the username as typed: it may be a password in the wrong field",
        ),
        sa.Column(
            "address",
            sa.String(length=64),
            nullable=False,
            comment="client address as the proxy passed it",
        ),
        sa.Column("failures", sa.Integer(), nullable=False, comment="failed sign-ins in a row"),
        sa.Column("last_failed_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "blocked_until",
            registry.db.UTCDateTime(timezone=True),
            nullable=True,
            comment="the address may not try this username again before then",
        ),
        sa.PrimaryKeyConstraint("username_key", "address", name=op.f("pk_staff_sign_in_failures")),
    )
    op.create_index(
        op.f("ix_staff_sign_in_failures_last_failed_at"),
        "staff_sign_in_failures",
        ["last_failed_at"],
        unique=False,
    )
    # Plain drop column, as in 0017 and 0019: a SQLite batch rebuild of staff_users would
    # drop and recreate the table under staff_user_roles' ON DELETE CASCADE.
    op.drop_column("staff_users", "locked_until")
    op.drop_column("staff_users", "failed_logins")
    op.add_column(
        "staff_users",
        sa.Column(
            "session_generation",
            sa.Integer(),
            server_default="0",
            nullable=False,
            comment="raised at sign-out and password change: the sessions issued before end",
        ),
    )


def downgrade() -> None:
    op.drop_column("staff_users", "session_generation")
    op.add_column(
        "staff_users",
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "staff_users",
        sa.Column("locked_until", registry.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.drop_index(
        op.f("ix_staff_sign_in_failures_last_failed_at"), table_name="staff_sign_in_failures"
    )
    op.drop_table("staff_sign_in_failures")
    op.drop_table("staff_sign_in_attempts")
