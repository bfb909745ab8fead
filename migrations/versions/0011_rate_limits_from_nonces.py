"""Rate limits counted from the nonces; the rate-window counters go

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 15:52:21.372460
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import registry.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("rate_windows")
    with op.batch_alter_table("request_nonces", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "member_id",
                sa.Uuid(),
                nullable=True,
                comment="the key's member: rate limits count per member",
            )
        )
    # Nonces already seen keep guarding against replays: each gets its key's member.
    op.execute(
        "UPDATE request_nonces SET member_id = "
        "(SELECT member_id FROM member_keys WHERE member_keys.id = request_nonces.key_id)"
    )
    with op.batch_alter_table("request_nonces", schema=None) as batch_op:
        batch_op.alter_column("member_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_index(
            "ix_request_nonces_member_seen", ["member_id", "seen_at"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_request_nonces_member_id_members"), "members", ["member_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("request_nonces", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_request_nonces_member_id_members"), type_="foreignkey"
        )
        batch_op.drop_index("ix_request_nonces_member_seen")
        batch_op.drop_column("member_id")
    op.create_table(
        "rate_windows",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("window_start", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_rate_windows_member_id_members")
        ),
        sa.PrimaryKeyConstraint("member_id", "window_start", name=op.f("pk_rate_windows")),
    )
