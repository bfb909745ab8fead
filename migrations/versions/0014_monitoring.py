"""Portfolio monitoring: portfolios, watched states, events, webhook deliveries

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25 16:01:16.881697
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import registry.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monitoring_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column(
            "enqueued_at",
            registry.db.UTCDateTime(timezone=True),
            nullable=False,
            comment="when the change was made",
        ),
        sa.Column("processed_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_outbox")),
    )
    with op.batch_alter_table("monitoring_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_monitoring_outbox_pending",
            ["id"],
            unique=False,
            postgresql_where=sa.text("processed_at IS NULL"),
            sqlite_where=sa.text("processed_at IS NULL"),
        )
        batch_op.create_index(
            batch_op.f("ix_monitoring_outbox_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "monitoring_webhooks",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column(
            "cursor",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="the member's last event already put in a delivery",
        ),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_monitoring_webhooks_member_id_members")
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_monitoring_webhooks")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "first_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "last_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at",
            registry.db.UTCDateTime(timezone=True),
            nullable=True,
            comment="while pending: when it is due (or the end of a worker's lease)",
        ),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')",
            name=op.f("ck_webhook_deliveries_status_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_webhook_deliveries_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_deliveries_due",
            ["next_attempt_at"],
            unique=False,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "monitoring_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
            comment="global, increasing: the cursor",
        ),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column(
            "type",
            sa.String(length=40),
            nullable=False,
            comment="e.g. record.added, rating.changed",
        ),
        sa.Column("item_id", sa.String(length=64), nullable=True, comment="the record, entry ..."),
        sa.Column(
            "old",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
            comment="the item before; null if new",
        ),
        sa.Column(
            "new",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
            comment="the item after; null if gone",
        ),
        sa.Column(
            "at",
            registry.db.UTCDateTime(timezone=True),
            nullable=False,
            comment="when the change was made",
        ),
        sa.Column("detected_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_monitoring_events_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_events")),
    )
    with op.batch_alter_table("monitoring_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_events_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "portfolio_items",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("added_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_portfolio_items_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_portfolio_items_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("member_id", "subject_id", name=op.f("pk_portfolio_items")),
    )
    with op.batch_alter_table("portfolio_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portfolio_items_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "watched_states",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column(
            "state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="see registry.monitoring.watched_state",
        ),
        sa.Column("updated_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_watched_states_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_watched_states")),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status_code", sa.Integer(), nullable=True, comment="the receiver's answer, if any"
        ),
        sa.Column("error", sa.Text(), nullable=True, comment="why no 2xx came back"),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_attempts_delivery_id"), ["delivery_id"], unique=False
        )

    op.create_table(
        "monitoring_member_events",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["monitoring_events.id"],
            name=op.f("fk_monitoring_member_events_event_id_monitoring_events"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_monitoring_member_events_member_id_members"),
        ),
        sa.PrimaryKeyConstraint("member_id", "event_id", name=op.f("pk_monitoring_member_events")),
    )


def downgrade() -> None:
    op.drop_table("monitoring_member_events")
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_attempts_delivery_id"))

    op.drop_table("webhook_attempts")
    op.drop_table("watched_states")
    with op.batch_alter_table("portfolio_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portfolio_items_subject_id"))

    op.drop_table("portfolio_items")
    with op.batch_alter_table("monitoring_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_events_subject_id"))

    op.drop_table("monitoring_events")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_member_id"))
        batch_op.drop_index(
            "ix_webhook_deliveries_due",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )

    op.drop_table("webhook_deliveries")
    op.drop_table("monitoring_webhooks")
    with op.batch_alter_table("monitoring_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_outbox_subject_id"))
        batch_op.drop_index(
            "ix_monitoring_outbox_pending",
            postgresql_where=sa.text("processed_at IS NULL"),
            sqlite_where=sa.text("processed_at IS NULL"),
        )

    op.drop_table("monitoring_outbox")
