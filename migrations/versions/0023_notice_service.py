"""List entries: the prior notice's service (channel, date, reference, delivery)

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 09:00:00

The objection window now runs from the day the notice is served, no longer from its issue.
Entries in their notice stage before this revision had their notice issued (logged or
e-mailed) but never served: their window is cleared, and they wait for a service to be
recorded (or for the subject's member to read the notice) before it opens again. Entries
published before keep their history as it was.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import registry.db

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = "'member', 'post', 'in_person', 'announcement', 'email'"


# Plain add/drop column, as in 0019: a SQLite batch rebuild of list_entries would drop the
# table that list_reviews, list_objections and repair_applications point to.
def upgrade() -> None:
    op.add_column(
        "list_entries",
        sa.Column(
            "notice_channel",
            sa.String(length=16),
            sa.CheckConstraint(
                f"notice_channel IN ({CHANNELS})",
                name=op.f("ck_list_entries_notice_channel_allowed"),
            ),
            nullable=True,
            comment="how the notice was served; null until it is",
        ),
    )
    op.add_column(
        "list_entries",
        sa.Column(
            "notice_served_on",
            sa.Date(),
            nullable=True,
            comment="the day of service: the objection window counts from it",
        ),
    )
    op.add_column(
        "list_entries",
        sa.Column(
            "notice_delivered_at",
            registry.db.UTCDateTime(timezone=True),
            nullable=True,
            comment="member channel: when the notice was handed to the member",
        ),
    )
    op.add_column(
        "list_entries",
        sa.Column(
            "notice_reference",
            sa.String(length=200),
            nullable=True,
            comment="tracking number, receipt, announcement, or the delivering request",
        ),
    )
    _add_member_column()
    _comment("when the notice was issued", "last day of the objection window; set at service")
    op.execute("UPDATE list_entries SET objection_deadline = NULL WHERE state = 'notice'")


def _comment(sent: str | None, deadline: str | None) -> None:
    """The comments of the two columns whose meaning the service changes (SQLite keeps none)."""
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column(
        "list_entries",
        "notice_sent_at",
        existing_type=registry.db.UTCDateTime(timezone=True),
        existing_nullable=True,
        comment=sent,
    )
    op.alter_column(
        "list_entries",
        "objection_deadline",
        existing_type=sa.Date(),
        existing_nullable=True,
        comment=deadline,
    )


def _add_member_column() -> None:
    member_comment = "member channel: the member served"
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in one statement; Alembic's add_column
        # would ask for a batch rebuild to add the foreign key.
        op.execute(
            "ALTER TABLE list_entries ADD COLUMN notice_member_id CHAR(32) "
            "CONSTRAINT fk_list_entries_notice_member_id_members REFERENCES members (id)"
        )
        return
    op.add_column(
        "list_entries",
        sa.Column("notice_member_id", sa.Uuid(), nullable=True, comment=member_comment),
    )
    op.create_foreign_key(
        op.f("fk_list_entries_notice_member_id_members"),
        "list_entries",
        "members",
        ["notice_member_id"],
        ["id"],
    )


def downgrade() -> None:
    _comment(None, None)
    for column in (
        "notice_member_id",
        "notice_reference",
        "notice_delivered_at",
        "notice_served_on",
        "notice_channel",
    ):
        op.drop_column("list_entries", column)
