"""Records: open records confirmed by their submitter; licences and penalties marked late

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 09:00:00

Two pieces of bookkeeping on credit_records:

* ``open_confirmed_at`` and ``confirmation_requested_at``: a negative record of an open-ended
  category without an end is kept until its submitter sends the end, and confirmed open by
  the submitter from time to time (registry.open_records).
* ``publicity_due_on`` and ``publicity_late``: a licence or penalty (双公示) is to be
  published within 7 working days of its decision; the registry marks those it received
  later (registry.publicity). The records already held are measured here, against their
  first receipt, with the working calendar and the period of the settings the registry runs
  with (`creditreg db upgrade` hands its own over, a bare `alembic upgrade` loads them as the
  registry does).
"""

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import context, op

import registry.db

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500


def _settings() -> Any:
    settings = context.config.attributes.get("settings")
    if settings is None:
        from config import load_settings

        settings = load_settings()
    return settings


def _measure_held_records() -> None:
    from registry.publicity import rule_from_settings

    settings = _settings()
    rule = rule_from_settings(settings)
    zone = ZoneInfo(settings.REGISTRY_TIMEZONE)
    records = sa.table(
        "credit_records",
        sa.column("id", sa.Uuid()),
        sa.column("category", sa.String()),
        sa.column("decided_at", sa.Date()),
        sa.column("created_at", registry.db.UTCDateTime(timezone=True)),
        sa.column("publicity_due_on", sa.Date()),
        sa.column("publicity_late", sa.Boolean()),
    )
    update = (
        sa.update(records)
        .where(records.c.id == sa.bindparam("record_id"))
        .values(publicity_due_on=sa.bindparam("due"), publicity_late=sa.bindparam("late"))
    )
    connection = op.get_bind()
    last = None
    while True:
        page = (
            sa.select(records.c.id, records.c.category, records.c.decided_at, records.c.created_at)
            .where(
                records.c.category.in_(["administrative_licence", "administrative_penalty"]),
                records.c.decided_at.is_not(None),
            )
            .order_by(records.c.id)
            .limit(BATCH)
        )
        if last is not None:
            page = page.where(records.c.id > last)
        rows = connection.execute(page).all()
        if not rows:
            return
        values = []
        for record_id, category, decided_at, created_at in rows:
            marks = rule.marks(category, decided_at, created_at.astimezone(zone).date())
            values.append(
                {
                    "record_id": record_id,
                    "due": marks["publicity_due_on"],
                    "late": marks["publicity_late"],
                }
            )
        connection.execute(update, values)
        last = rows[-1][0]


def upgrade() -> None:
    # Plain ADD COLUMNs, not a batch rebuild: on SQLite a rebuild of credit_records would
    # drop and recreate the table that credit_record_versions refers to.
    op.add_column(
        "credit_records",
        sa.Column(
            "publicity_due_on",
            sa.Date(),
            nullable=True,
            comment="a licence or penalty (双公示): the last working day to publish it, counted "
            "from the decision (registry.publicity); NULL for other categories",
        ),
    )
    op.add_column(
        "credit_records",
        sa.Column(
            "publicity_late",
            sa.Boolean(),
            nullable=True,
            comment="a licence or penalty: the registry received it after publicity_due_on; "
            "NULL for other categories",
        ),
    )
    op.add_column(
        "credit_records",
        sa.Column(
            "open_confirmed_at",
            registry.db.UTCDateTime(timezone=True),
            nullable=True,
            comment="a negative record open until its event ends (no ended_at): when its "
            "submitter last confirmed it is still open (registry.open_records)",
        ),
    )
    op.add_column(
        "credit_records",
        sa.Column(
            "confirmation_requested_at",
            registry.db.UTCDateTime(timezone=True),
            nullable=True,
            comment="when the registry last asked the submitter to confirm the open record",
        ),
    )
    _measure_held_records()
    op.create_index(
        "ix_credit_records_publicity_late",
        "credit_records",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("publicity_late IS true"),
        sqlite_where=sa.text("publicity_late IS 1"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_credit_records_publicity_late",
        table_name="credit_records",
        postgresql_where=sa.text("publicity_late IS true"),
        sqlite_where=sa.text("publicity_late IS 1"),
    )
    # SQLite drops a column in place (3.35+) when nothing refers to it.
    op.drop_column("credit_records", "confirmation_requested_at")
    op.drop_column("credit_records", "open_confirmed_at")
    op.drop_column("credit_records", "publicity_late")
    op.drop_column("credit_records", "publicity_due_on")
