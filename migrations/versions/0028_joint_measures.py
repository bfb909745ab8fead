"""List entries: joint measures from a catalogue, and the measures members applied

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08 09:00:00

A proposal names its measures (联合奖惩措施) by the codes of the catalogue
(config/joint_measures.toml): ``list_entry_measures`` holds them with their wording and legal
basis as proposed. The entry's ``measures`` column keeps the measures as worded: the named
measures' texts, or, for an entry proposed before the catalogue, its free text, which this
upgrade leaves as it is (such an entry names no codes and is shown with its text).
``measure_applications`` holds the members' reports of measures they applied.

Downgrading drops both tables; every entry keeps its ``measures`` text, so none becomes
unreadable (the codes and the reports are lost).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import registry.db

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_BEFORE = "惩戒措施 / 激励措施 applied"
TEXT_AFTER = (
    "惩戒措施 / 激励措施 as worded: the named measures' texts, or the free text of an entry "
    "proposed before the catalogue (then no list_entry_measures)"
)


def _comment(text: str, was: str) -> None:
    if op.get_context().dialect.name != "sqlite":  # SQLite keeps no comments
        op.alter_column(
            "list_entries",
            "measures",
            existing_type=sa.Text(),
            existing_nullable=False,
            comment=text,
            existing_comment=was,
        )


def upgrade() -> None:
    op.create_table(
        "list_entry_measures",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column(
            "position",
            sa.Integer(),
            nullable=False,
            comment="the order the proposal named them in, from 0",
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["list_entries.id"],
            name=op.f("fk_list_entry_measures_entry_id_list_entries"),
        ),
        sa.PrimaryKeyConstraint("entry_id", "code", name=op.f("pk_list_entry_measures")),
    )
    op.create_table(
        "measure_applications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column(
            "code", sa.String(length=64), nullable=False, comment="the measure's catalogue code"
        ),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False, comment="the day the member applied it"),
        sa.Column(
            "reference",
            sa.String(length=200),
            nullable=True,
            comment="the member's own reference: a decision, a tender, a file",
        ),
        sa.Column(
            "reported_at",
            registry.db.UTCDateTime(timezone=True),
            nullable=False,
            comment="when the registry received the report",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["list_entries.id"],
            name=op.f("fk_measure_applications_entry_id_list_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_measure_applications_member_id_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measure_applications")),
    )
    op.create_index(op.f("ix_measure_applications_entry_id"), "measure_applications", ["entry_id"])
    op.create_index(
        op.f("ix_measure_applications_member_id"), "measure_applications", ["member_id"]
    )
    _comment(TEXT_AFTER, TEXT_BEFORE)


def downgrade() -> None:
    _comment(TEXT_BEFORE, TEXT_AFTER)
    op.drop_index(op.f("ix_measure_applications_member_id"), table_name="measure_applications")
    op.drop_index(op.f("ix_measure_applications_entry_id"), table_name="measure_applications")
    op.drop_table("measure_applications")
    op.drop_table("list_entry_measures")
