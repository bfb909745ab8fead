"""The search outbox: every change to what a subject's search document shows leaves a row here,
in the same transaction as the change, so the index can never miss one.

``creditreg worker`` drains the outbox into the search backend (see ``search.sync``). A row
names only the subject: the worker always projects the subject's *current* state, and the
subject's ``revision`` (raised here with every change) is the document's external version,
so retries and reordering between workers cannot put an older state over a newer one.
Processed rows are kept for a while: a reindex replays them from the mark it took.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry.db import Base, add_append_only


class SearchOutbox(Base):
    __tablename__ = "search_outbox"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    # No foreign key: a subject that leaves the registry still needs its row, to delete
    # its document.
    subject_id: Mapped[uuid.UUID] = mapped_column(index=True)
    enqueued_at: Mapped[datetime]
    processed_at: Mapped[datetime | None] = mapped_column(
        index=True, comment="when a worker applied it to the index; NULL while pending"
    )


# The worker claims pending rows oldest first; without this index the claim walks past
# every processed row kept for reindexing, and slows as the outbox grows.
sa.Index(
    "ix_search_outbox_pending",
    SearchOutbox.id,
    postgresql_where=SearchOutbox.processed_at.is_(None),
    sqlite_where=SearchOutbox.processed_at.is_(None),
)


def enqueue(
    session: Session, subject_id: uuid.UUID, *, at: datetime, registered: bool = False
) -> None:
    """Queue a subject whose revision the caller has already set (a new subject: 1).

    A subject ``registered`` in this transaction is not queued for monitoring: nobody can
    watch it before the transaction commits (a portfolio names existing subjects), and its
    first watch queues it for its baseline (``registry.monitoring.add_to_portfolio``), which
    then holds whatever this transaction wrote. So its row would only ever be skipped, and
    an intake of new subjects writes one row fewer a subject."""
    from registry.monitoring import MonitoringOutbox
    from registry.ratings import RatingOutbox

    # Append-only rows: in a submission each outbox then takes one statement for all its
    # new subjects, not one a subject.
    row = {"subject_id": subject_id, "enqueued_at": at}
    outboxes: list[type[Base]] = [SearchOutbox, RatingOutbox]
    if not registered:
        outboxes.append(MonitoringOutbox)
    for outbox in outboxes:
        add_append_only(session, outbox, dict(row))


def touch_subjects(
    session: Session, subject_ids: Iterable[uuid.UUID], *, at: datetime, rescore: bool = True
) -> None:
    """Record that these existing subjects' documents changed: raise their revision and
    queue them, whatever else of theirs the caller changes. Unless ``rescore`` is False (a
    rating being published), they are also queued to be rated again."""
    from registry.monitoring import enqueue_monitoring
    from registry.ratings import enqueue_ratings
    from registry.subjects import Subject, lock_subjects

    changed = sorted(set(subject_ids))
    if not changed:
        return
    # Rows are locked in id order first, as every other holder of subjects does: the
    # update alone would lock them in the order it finds them, and deadlock with a job.
    lock_subjects(session, changed)
    # A plain table update: one statement covers a whole submission.
    table = cast(sa.Table, Subject.__table__)
    session.execute(
        sa.update(table)
        .where(table.c.id.in_(changed))
        .values(revision=table.c.revision + 1, updated_at=at)
    )
    # Loaded copies now hold an old revision; let them reload it when read.
    wanted = set(changed)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Subject) and obj.id in wanted:
            session.expire(obj, ["revision", "updated_at"])
    for subject_id in changed:
        add_append_only(session, SearchOutbox, {"subject_id": subject_id, "enqueued_at": at})
    if rescore:
        enqueue_ratings(session, changed, at=at)
    enqueue_monitoring(session, changed, at=at)


def pending_count(session: Session) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(SearchOutbox)
            .where(SearchOutbox.processed_at.is_(None))
        )
        or 0
    )
