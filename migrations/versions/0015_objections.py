"""Objections (异议) to credit records and published list entries

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-25 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import registry.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DISPUTING = sa.text("status IN ('open', 'escalated')")


def upgrade() -> None:
    # A new table only: nothing existing is altered, so no batch (table copy) on SQLite.
    op.create_table(
        "objections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column(
            "item_id", sa.Uuid(), nullable=False, comment="credit_records.id or list_entries.id"
        ),
        sa.Column(
            "item_version",
            sa.Integer(),
            nullable=True,
            comment="a record's version when the objection was filed: a correction must come after",
        ),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("filed_by", sa.String(length=80), nullable=False, comment="actor kind:id"),
        sa.Column("filer_member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "for_subject",
            sa.Boolean(),
            nullable=False,
            comment="filed by the subject, through the member that represents it",
        ),
        sa.Column(
            "answering_member_id",
            sa.Uuid(),
            nullable=False,
            comment="the member that submitted the record or proposed the entry",
        ),
        sa.Column("grounds", sa.Text(), nullable=False),
        sa.Column(
            "statement",
            sa.Text(),
            nullable=True,
            comment="the subject's statement, shown beside the item",
        ),
        sa.Column("statement_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("filed_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "due_at",
            registry.db.UTCDateTime(timezone=True),
            nullable=False,
            comment="filed_at + the answer period",
        ),
        sa.Column("escalated_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=80), nullable=True, comment="actor kind:id"),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(outcome IS NULL) = (status IN ('open', 'escalated'))",
            name=op.f("ck_objections_outcome_iff_closed"),
        ),
        sa.CheckConstraint(
            "item_kind IN ('record', 'list_entry')", name=op.f("ck_objections_item_kind_allowed")
        ),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('corrected', 'revoked', 'upheld')",
            name=op.f("ck_objections_outcome_allowed"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'answered', 'escalated', 'decided')",
            name=op.f("ck_objections_status_allowed"),
        ),
        sa.CheckConstraint(
            "outcome IS NULL OR reason IS NOT NULL", name=op.f("ck_objections_outcome_has_reason")
        ),
        sa.ForeignKeyConstraint(
            ["answering_member_id"],
            ["members.id"],
            name=op.f("fk_objections_answering_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["filer_member_id"], ["members.id"], name=op.f("fk_objections_filer_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_objections_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objections")),
    )
    for column in ("answering_member_id", "due_at", "filer_member_id", "status", "subject_id"):
        op.create_index(op.f(f"ix_objections_{column}"), "objections", [column], unique=False)
    op.create_index(
        "uq_objections_open_item",
        "objections",
        ["item_kind", "item_id"],
        unique=True,
        postgresql_where=DISPUTING,
        sqlite_where=DISPUTING,
    )


def downgrade() -> None:
    op.drop_index(
        "uq_objections_open_item",
        table_name="objections",
        postgresql_where=DISPUTING,
        sqlite_where=DISPUTING,
    )
    for column in ("subject_id", "status", "filer_member_id", "due_at", "answering_member_id"):
        op.drop_index(op.f(f"ix_objections_{column}"), table_name="objections")
    op.drop_table("objections")
