"""Retention and publication periods: the end of a penalty's publication, the sealed archive

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 18:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import registry.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch rebuild: on SQLite a rebuild of credit_records would
    # drop and recreate the table that credit_record_versions refers to.
    op.add_column(
        "credit_records",
        sa.Column(
            "publication_ended_at",
            sa.Date(),
            nullable=True,
            comment="an administrative penalty: the day its publication period ended (set by "
            "the retention job, registry.retention); NULL while published",
        ),
    )
    op.create_table(
        "archived_credit_records",
        sa.Column("id", sa.Uuid(), nullable=False, comment="the record's own id"),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False, comment="the submitting member"),
        sa.Column("member_record_id", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("polarity", sa.String(length=16), nullable=False),
        sa.Column(
            "record",
            JSON,
            nullable=False,
            comment="the record row as it last was, registry fields included",
        ),
        sa.Column("versions", JSON, nullable=False, comment="its version history, oldest first"),
        sa.Column(
            "retained_from", sa.Date(), nullable=False, comment="when the retention clock started"
        ),
        sa.Column(
            "retained_until",
            sa.Date(),
            nullable=False,
            comment="the day it left the live registry",
        ),
        sa.Column("archived_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_archived_credit_records_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subjects.id"],
            name=op.f("fk_archived_credit_records_subject_id_subjects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archived_credit_records")),
    )
    op.create_index(
        op.f("ix_archived_credit_records_subject_id"),
        "archived_credit_records",
        ["subject_id"],
        unique=False,
    )


def downgrade() -> None:
    # Downgrading loses the archive: only for development databases.
    op.drop_index(
        op.f("ix_archived_credit_records_subject_id"), table_name="archived_credit_records"
    )
    op.drop_table("archived_credit_records")
    op.drop_column("credit_records", "publication_ended_at")
