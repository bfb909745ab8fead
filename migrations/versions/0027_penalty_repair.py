"""Credit repair: for administrative penalties as well as list entries; late applications

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 09:00:00

A repair application is about a list entry or, now, an administrative penalty whose
publication the subject asks to end early (``record_id``; no foreign key: a record may move
to the sealed archive, its application stays as history). Staff file for a person, with the
way they checked who asked (``identity_check``). An application past its deadline at its
stage is escalated (``escalated_at``) and shown late.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import registry.db

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A batch rebuild of repair_applications: nothing points at it, and SQLite changes a column
# to nullable and adds a CHECK only by rebuilding the table.
def upgrade() -> None:
    with op.batch_alter_table("repair_applications", schema=None) as batch_op:
        batch_op.alter_column("entry_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.add_column(
            sa.Column(
                "record_id",
                sa.Uuid(),
                nullable=True,
                comment="an administrative penalty whose publication is to end early (no "
                "foreign key: the record may move to the sealed archive)",
            )
        )
        batch_op.add_column(
            sa.Column(
                "identity_check",
                sa.Text(),
                nullable=True,
                comment="filed by staff for a person: how they checked who asked",
            )
        )
        batch_op.add_column(
            sa.Column(
                "escalated_at",
                registry.db.UTCDateTime(timezone=True),
                nullable=True,
                comment="when it went past the deadline of its current stage",
            )
        )
        batch_op.create_index(
            batch_op.f("ix_repair_applications_record_id"), ["record_id"], unique=False
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_repair_applications_one_item"),
            "(entry_id IS NULL) <> (record_id IS NULL)",
        )


def downgrade() -> None:
    op.execute("DELETE FROM repair_applications WHERE entry_id IS NULL")
    with op.batch_alter_table("repair_applications", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_repair_applications_one_item"), type_="check")
        batch_op.drop_index(batch_op.f("ix_repair_applications_record_id"))
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("identity_check")
        batch_op.drop_column("record_id")
        batch_op.alter_column("entry_id", existing_type=sa.Uuid(), nullable=False)
