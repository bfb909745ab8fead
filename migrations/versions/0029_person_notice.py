"""Records: negative information about a person held until the person is told

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 09:00:00

Before negative information about a person is shared, the person is told
(registry.person_notices). ``held_for_notice`` holds a record from lookups, members'
reports, monitoring and ratings; ``person_told_on``, ``person_told_via`` and
``person_told_by`` say when, how and on whose word the person was told.

The negative records on persons already held were shared without any notice on record: they
are held from this revision on, until their submitter confirms the person was told (they
list them at ``GET /api/v1/records/person-notices/held``) or staff serve the registry's own
notice. Their subjects are queued so that the search documents stop counting them, their
ratings are proposed again without them, and their watchers hear of it.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import registry.db

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _hold_records_without_notice() -> None:
    records = sa.table(
        "credit_records",
        sa.column("subject_id", sa.Uuid()),
        sa.column("polarity", sa.String()),
        sa.column("status", sa.String()),
        sa.column("held_for_notice", sa.Boolean()),
    )
    subjects = sa.table("subjects", sa.column("id", sa.Uuid()), sa.column("kind", sa.String()))
    queues = [
        sa.table(
            name,
            sa.column("subject_id", sa.Uuid()),
            sa.column("enqueued_at", registry.db.UTCDateTime(timezone=True)),
        )
        for name in ("search_outbox", "rating_outbox", "monitoring_outbox")
    ]
    persons = sa.select(subjects.c.id).where(subjects.c.kind == "person")
    negative_on_person = sa.and_(
        records.c.polarity == "negative",
        records.c.status == "active",
        records.c.subject_id.in_(persons),
    )
    connection = op.get_bind()
    connection.execute(sa.update(records).where(negative_on_person).values(held_for_notice=True))
    held_subjects = (
        sa.select(
            records.c.subject_id,
            sa.literal(datetime.now(UTC), registry.db.UTCDateTime(timezone=True)),
        )
        .where(negative_on_person)
        .distinct()
    )
    # As registry.outbox.touch_subjects does: a new revision, and the subject queued for its
    # search document, a new rating (a published grade must not keep counting what is now
    # held) and its watchers.
    revisions = sa.table(
        "subjects", sa.column("id", sa.Uuid()), sa.column("revision", sa.Integer())
    )
    connection.execute(
        sa.update(revisions)
        .where(revisions.c.id.in_(sa.select(records.c.subject_id).where(negative_on_person)))
        .values(revision=revisions.c.revision + 1)
    )
    for queue in queues:
        connection.execute(
            sa.insert(queue).from_select(["subject_id", "enqueued_at"], held_subjects)
        )


def upgrade() -> None:
    op.add_column(
        "credit_records",
        sa.Column(
            "held_for_notice",
            sa.Boolean(),
            server_default=sa.false(),
            nullable=False,
            comment="a negative record on a person, held from lookups, members' reports, "
            "monitoring and ratings until the person is told (registry.person_notices)",
        ),
    )
    op.add_column(
        "credit_records",
        sa.Column(
            "person_told_on",
            sa.Date(),
            nullable=True,
            comment="a negative record on a person: the day the person was told of it",
        ),
    )
    op.add_column(
        "credit_records",
        sa.Column(
            "person_told_via",
            sa.String(length=16),
            nullable=True,
            comment="how the person was told (registry.person_notices.Channel)",
        ),
    )
    op.add_column(
        "credit_records",
        sa.Column(
            "person_told_by",
            sa.String(length=16),
            nullable=True,
            comment="submitter: the submitter confirmed it; registry: the registry's own "
            "notice, served by staff",
        ),
    )
    _hold_records_without_notice()
    op.create_index(
        "ix_credit_records_held_for_notice",
        "credit_records",
        ["member_id"],
        unique=False,
        postgresql_where=sa.text("held_for_notice IS true"),
        sqlite_where=sa.text("held_for_notice IS 1"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_credit_records_held_for_notice",
        table_name="credit_records",
        postgresql_where=sa.text("held_for_notice IS true"),
        sqlite_where=sa.text("held_for_notice IS 1"),
    )
    op.drop_column("credit_records", "person_told_by")
    op.drop_column("credit_records", "person_told_via")
    op.drop_column("credit_records", "person_told_on")
    op.drop_column("credit_records", "held_for_notice")
