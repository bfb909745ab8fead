"""Consents name the person by the keyed hash of the ID number; the subject is optional

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-28 09:00:00

A consent recorded by ID number is kept whether or not the registry holds the person, so
recording one no longer tells a member whether a number is registered. Existing consents
take the hash of their subject's number and keep their subject.

Downgrading gives each consent the subject that now holds its number and deletes the
consents of numbers the registry still does not hold: the old table cannot keep them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import registry.db

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HASH_COMMENT = "HMAC-SHA256 of the person's ID number, as subjects hold it"
SUBJECT_COMMENT = "the subject, when the member named it by id; none when it gave the number"
COPY_UP = """
    INSERT INTO consents (id, member_id, id_number_hash, subject_id, reference, purpose,
                          given_on, valid_until, recorded_at, revoked_at)
    SELECT c.id, c.member_id, s.id_number_hash, c.subject_id, c.reference, c.purpose,
           c.given_on, c.valid_until, c.recorded_at, c.revoked_at
    FROM _consents_before c JOIN subjects s ON s.id = c.subject_id
"""
COPY_DOWN = """
    INSERT INTO consents (id, member_id, subject_id, reference, purpose, given_on,
                          valid_until, recorded_at, revoked_at)
    SELECT id, member_id, subject_id, reference, purpose, given_on, valid_until, recorded_at,
           revoked_at
    FROM _consents_before
"""


def _create_consents(*, by_hash: bool) -> None:
    """The table as the models have it after this revision (``by_hash``) or before."""
    columns = [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=by_hash),
        sa.Column(
            "reference",
            sa.String(length=100),
            nullable=False,
            comment="the member's reference of the signed consent it keeps",
        ),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("recorded_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", registry.db.UTCDateTime(timezone=True), nullable=True),
    ]
    if by_hash:
        columns.insert(
            2,
            sa.Column("id_number_hash", sa.String(length=80), nullable=False, comment=HASH_COMMENT),
        )
    op.create_table(
        "consents",
        *columns,
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_consents_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_consents_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index(op.f("ix_consents_member_id"), "consents", ["member_id"], unique=False)
    op.create_index(op.f("ix_consents_subject_id"), "consents", ["subject_id"], unique=False)


def _rebuild_on_sqlite(*, by_hash: bool, copy: str) -> None:
    """SQLite changes no column's nullability in place: the table is made anew. Credit
    reports point at consents, so the rows wait in a plain copy while the table is dropped
    and made again, and the foreign keys are checked at commit, once the same ids are back
    (Alembic's batch mode renames a copy into place instead, which the reports' foreign key
    refuses while the old table is dropped)."""
    op.execute("CREATE TABLE _consents_before AS SELECT * FROM consents")
    op.execute("PRAGMA defer_foreign_keys = ON")
    op.drop_index(op.f("ix_consents_subject_id"), table_name="consents")
    op.drop_index(op.f("ix_consents_member_id"), table_name="consents")
    op.drop_table("consents")
    _create_consents(by_hash=by_hash)
    op.execute(copy)
    op.execute("DROP TABLE _consents_before")


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        _rebuild_on_sqlite(by_hash=True, copy=COPY_UP)
        return
    op.add_column(
        "consents",
        sa.Column("id_number_hash", sa.String(length=80), nullable=True, comment=HASH_COMMENT),
    )
    op.execute(
        "UPDATE consents SET id_number_hash = "
        "(SELECT s.id_number_hash FROM subjects s WHERE s.id = consents.subject_id)"
    )
    op.alter_column("consents", "id_number_hash", existing_type=sa.String(80), nullable=False)
    op.alter_column(
        "consents", "subject_id", existing_type=sa.Uuid(), nullable=True, comment=SUBJECT_COMMENT
    )


def downgrade() -> None:
    op.execute(
        "UPDATE consents SET subject_id = (SELECT s.id FROM subjects s "
        "WHERE s.id_number_hash = consents.id_number_hash) WHERE subject_id IS NULL"
    )
    op.execute("DELETE FROM consents WHERE subject_id IS NULL")
    if op.get_context().dialect.name == "sqlite":
        _rebuild_on_sqlite(by_hash=False, copy=COPY_DOWN)
        return
    op.alter_column(
        "consents",
        "subject_id",
        existing_type=sa.Uuid(),
        nullable=False,
        comment=None,
        existing_comment=SUBJECT_COMMENT,
    )
    op.drop_column("consents", "id_number_hash")
