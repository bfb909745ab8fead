"""Objections filed by staff for a person, who has no member

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 10:00:00

A person objects, and adds a statement, at the registry's counter: staff file it for them
after checking who they are. Such an objection has no filing member
(``filer_member_id`` NULL) and keeps how the identity was checked (``identity_check``); one
of the two is always there.
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DISPUTING = sa.text("status IN ('open', 'escalated')")


# SQLite changes a column to nullable and adds a CHECK only by rebuilding the table, and a
# rebuild does not carry a partial index's condition over: the one-open-objection index is
# dropped before and made again after.
def _without_open_item_index(change: Callable[[], None]) -> None:
    op.drop_index(
        "uq_objections_open_item",
        table_name="objections",
        postgresql_where=DISPUTING,
        sqlite_where=DISPUTING,
    )
    change()
    op.create_index(
        "uq_objections_open_item",
        "objections",
        ["item_kind", "item_id"],
        unique=True,
        postgresql_where=DISPUTING,
        sqlite_where=DISPUTING,
    )


def upgrade() -> None:
    def change() -> None:
        with op.batch_alter_table("objections", schema=None) as batch_op:
            batch_op.alter_column("filer_member_id", existing_type=sa.Uuid(), nullable=True)
            batch_op.add_column(
                sa.Column(
                    "identity_check",
                    sa.Text(),
                    nullable=True,
                    comment="filed by staff for a person: how they checked who asked",
                )
            )
            batch_op.create_check_constraint(
                batch_op.f("ck_objections_filed_by_member_or_staff"),
                "filer_member_id IS NOT NULL OR identity_check IS NOT NULL",
            )

    _without_open_item_index(change)


def downgrade() -> None:
    # Objections filed for persons have no member to carry them back.
    op.execute("DELETE FROM objections WHERE filer_member_id IS NULL")

    def change() -> None:
        with op.batch_alter_table("objections", schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f("ck_objections_filed_by_member_or_staff"), type_="check"
            )
            batch_op.drop_column("identity_check")
            batch_op.alter_column("filer_member_id", existing_type=sa.Uuid(), nullable=False)

    _without_open_item_index(change)
