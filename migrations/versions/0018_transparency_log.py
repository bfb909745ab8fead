"""Transparency log and the audit events' hash chain

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-25 16:15:57.685556

The log starts empty: submissions and list events from before this revision are not in it.
The audit chain starts at the first event written after it; earlier events keep a null
``chain_seq`` and ``creditreg audit verify`` counts them as outside the chain. The columns
are added in place (no table rebuild: other tables reference ``audit_events``' neighbours
with ON DELETE CASCADE on SQLite, and a rebuild would be slow on a large table).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import registry.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    chain_heads = op.create_table(
        "chain_heads",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "log_size",
            sa.BigInteger(),
            nullable=False,
            comment="entries in the transparency log: the next entry's index",
        ),
        sa.Column(
            "audit_size",
            sa.BigInteger(),
            nullable=False,
            comment="audit events in the hash chain: the last one's chain_seq",
        ),
        sa.Column(
            "audit_hash",
            sa.String(length=64),
            nullable=False,
            comment="hash of the last chained audit event (hex)",
        ),
        sa.Column(
            "signing_halted",
            sa.Text(),
            nullable=True,
            comment="why checkpoint signing stopped; set only on an inconsistency",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_heads")),
    )
    op.bulk_insert(
        chain_heads, [{"id": 1, "log_size": 0, "audit_size": 0, "audit_hash": GENESIS_HASH}]
    )
    op.create_table(
        "tlog_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, comment="the C2SP signed note, as served"),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_tlog_checkpoints")),
    )
    op.create_table(
        "tlog_entries",
        sa.Column("log_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False, comment="RFC 8785 canonical JSON"),
        sa.Column(
            "leaf_hash",
            sa.LargeBinary(length=32),
            nullable=False,
            comment="SHA-256(0x00 || entry)",
        ),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("log_index", name=op.f("pk_tlog_entries")),
    )
    op.create_table(
        "tlog_subtrees",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "position", name=op.f("pk_tlog_subtrees")),
    )
    op.add_column(
        "audit_events",
        sa.Column(
            "chain_seq",
            sa.BigInteger(),
            nullable=True,
            comment="position in the hash chain, from 1",
        ),
    )
    op.add_column(
        "audit_events",
        sa.Column(
            "prev_hash",
            sa.String(length=64),
            nullable=True,
            comment="hash of the event before in the chain (hex)",
        ),
    )
    op.add_column(
        "audit_events",
        sa.Column(
            "hash",
            sa.String(length=64),
            nullable=True,
            comment="SHA-256 of the event's fields and prev_hash (hex)",
        ),
    )
    op.create_index(op.f("ix_audit_events_chain_seq"), "audit_events", ["chain_seq"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_events_chain_seq"), table_name="audit_events")
    op.drop_column("audit_events", "hash")
    op.drop_column("audit_events", "prev_hash")
    op.drop_column("audit_events", "chain_seq")
    op.drop_table("tlog_subtrees")
    op.drop_table("tlog_entries")
    op.drop_table("tlog_checkpoints")
    op.drop_table("chain_heads")
