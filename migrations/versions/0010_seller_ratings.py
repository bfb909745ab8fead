"""Seller ratings: signed batches, ratings, moderation flags; platform codes of members

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 15:42:29.428135
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import registry.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "seller_rating_batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "key_id",
            sa.String(length=64),
            nullable=False,
            comment="the key that signed the request",
        ),
        sa.Column(
            "batch_id",
            sa.String(length=128),
            nullable=False,
            comment="the platform's own id for the batch",
        ),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False, comment="the exact request body bytes"),
        sa.Column(
            "body_digest",
            sa.String(length=128),
            nullable=False,
            comment="Content-Digest value, RFC 9530 sha-256",
        ),
        sa.Column("signature_input", sa.Text(), nullable=False, comment="Signature-Input header"),
        sa.Column("signature", sa.Text(), nullable=False, comment="Signature header"),
        sa.Column(
            "signature_base",
            sa.Text(),
            nullable=False,
            comment="the RFC 9421 signature base verified",
        ),
        sa.Column("received_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        sa.Column(
            "receipt",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
            comment="the signed receipt returned to the platform",
        ),
        sa.CheckConstraint(
            "rating_count > 0", name=op.f("ck_seller_rating_batches_rating_count_positive")
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["member_keys.id"], name=op.f("fk_seller_rating_batches_key_id_member_keys")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_seller_rating_batches_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seller_rating_batches")),
        sa.UniqueConstraint(
            "member_id", "batch_id", name=op.f("uq_seller_rating_batches_member_id_batch_id")
        ),
    )
    op.create_table(
        "seller_ratings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("platform_member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "shop_id", sa.String(length=128), nullable=False, comment="the platform's shop id"
        ),
        sa.Column(
            "order_id", sa.String(length=128), nullable=False, comment="the platform's order id"
        ),
        sa.Column(
            "buyer_hash",
            sa.String(length=64),
            nullable=False,
            comment="the platform's hash of its buyer id (hex); nothing else is kept",
        ),
        sa.Column("ordered_on", sa.Date(), nullable=False),
        sa.Column("rated_on", sa.Date(), nullable=False),
        sa.Column("overall", sa.SmallInteger(), nullable=False),
        sa.Column("item_as_described", sa.SmallInteger(), nullable=False),
        sa.Column("service", sa.SmallInteger(), nullable=False),
        sa.Column("delivery", sa.SmallInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column(
            "text_digest",
            sa.String(length=64),
            nullable=True,
            comment="SHA-256 of the normalised text: finds duplicates",
        ),
        sa.Column("received_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "review_state",
            sa.String(length=16),
            nullable=True,
            comment="NULL: never flagged; pending, kept or excluded",
        ),
        sa.Column("reviewed_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True, comment="staff user id"),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(review_state IN ('kept', 'excluded')) = (reviewed_at IS NOT NULL)",
            name=op.f("ck_seller_ratings_decision_recorded"),
        ),
        sa.CheckConstraint(
            "review_state IN ('pending', 'kept', 'excluded')",
            name=op.f("ck_seller_ratings_review_state_allowed"),
        ),
        sa.CheckConstraint(
            "delivery BETWEEN 1 AND 5", name=op.f("ck_seller_ratings_delivery_range")
        ),
        sa.CheckConstraint(
            "item_as_described BETWEEN 1 AND 5",
            name=op.f("ck_seller_ratings_item_as_described_range"),
        ),
        sa.CheckConstraint("overall BETWEEN 1 AND 5", name=op.f("ck_seller_ratings_overall_range")),
        sa.CheckConstraint(
            "rated_on >= ordered_on", name=op.f("ck_seller_ratings_rated_after_order")
        ),
        sa.CheckConstraint("service BETWEEN 1 AND 5", name=op.f("ck_seller_ratings_service_range")),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["seller_rating_batches.id"],
            name=op.f("fk_seller_ratings_batch_id_seller_rating_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_member_id"],
            ["members.id"],
            name=op.f("fk_seller_ratings_platform_member_id_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seller_ratings")),
        sa.UniqueConstraint(
            "platform_member_id",
            "order_id",
            name=op.f("uq_seller_ratings_platform_member_id_order_id"),
        ),
    )
    with op.batch_alter_table("seller_ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seller_ratings_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(
            "ix_seller_ratings_buyer",
            ["platform_member_id", "buyer_hash", "rated_on"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_seller_ratings_review_state"), ["review_state"], unique=False
        )
        batch_op.create_index(
            "ix_seller_ratings_shop", ["platform_member_id", "shop_id", "rated_on"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_seller_ratings_text_digest"), ["text_digest"], unique=False
        )

    op.create_table(
        "seller_rating_flags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rating_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="the pattern's numbers",
        ),
        sa.Column("flagged_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reason IN ('shop_burst', 'buyer_volume', 'duplicate_text')",
            name=op.f("ck_seller_rating_flags_reason_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["rating_id"],
            ["seller_ratings.id"],
            name=op.f("fk_seller_rating_flags_rating_id_seller_ratings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seller_rating_flags")),
        sa.UniqueConstraint(
            "rating_id", "reason", name=op.f("uq_seller_rating_flags_rating_id_reason")
        ),
    )
    # A plain ADD COLUMN and a unique index rather than a batch rebuild: rebuilding
    # `members` on SQLite would drop the table that every member's roles cascade from.
    op.add_column(
        "members",
        sa.Column(
            "platform_code",
            sa.String(length=32),
            nullable=True,
            comment="a platform's short name in public URLs, e.g. taobao",
        ),
    )
    op.create_index(op.f("ix_members_platform_code"), "members", ["platform_code"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_members_platform_code"), table_name="members")
    # Native DROP COLUMN (SQLite 3.35+, PostgreSQL) keeps the table, and its dependants, in place.
    op.execute("ALTER TABLE members DROP COLUMN platform_code")

    op.drop_table("seller_rating_flags")
    with op.batch_alter_table("seller_ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seller_ratings_text_digest"))
        batch_op.drop_index("ix_seller_ratings_shop")
        batch_op.drop_index(batch_op.f("ix_seller_ratings_review_state"))
        batch_op.drop_index("ix_seller_ratings_buyer")
        batch_op.drop_index(batch_op.f("ix_seller_ratings_batch_id"))

    op.drop_table("seller_ratings")
    op.drop_table("seller_rating_batches")
