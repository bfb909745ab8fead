"""Draining the search outbox into the backend (a ``creditreg worker`` job).

Rows are claimed oldest first; on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so several
workers share the work without waiting on each other (SQLite runs one worker). The claimed
subjects' documents are built from the database as it is now and written with external
versions; only then are the rows marked processed, in the same transaction that claimed
them. If the engine is down the write fails, the transaction rolls back, the rows stay
pending, and the worker tries again later: nothing is lost.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.outbox import SearchOutbox
from search.backends import SearchBackend
from search.documents import build_documents

log = logging.getLogger(__name__)

BATCH_SIZE = 500
# Subject ids are never reused, so a deleted subject's tombstone may carry a version no
# later write can beat.
TOMBSTONE_VERSION = 2**62


def drain_once(
    session: Session, backend: SearchBackend, now: datetime, *, batch: int = BATCH_SIZE
) -> int:
    """Apply one batch of pending outbox rows; returns how many rows it handled."""
    claim = (
        sa.select(SearchOutbox.id, SearchOutbox.subject_id)
        .where(SearchOutbox.processed_at.is_(None))
        .order_by(SearchOutbox.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(claim).all()
    if not rows:
        return 0
    subject_ids = {subject_id for _, subject_id in rows}
    documents = build_documents(session, subject_ids)
    backend.index([doc for doc in documents.values() if doc is not None], session=session)
    gone = [
        (str(subject_id), TOMBSTONE_VERSION) for subject_id, doc in documents.items() if not doc
    ]
    backend.delete(gone, session=session)
    session.execute(
        sa.update(SearchOutbox)
        .where(SearchOutbox.id.in_([row_id for row_id, _ in rows]))
        .values(processed_at=now)
    )
    return len(rows)


def drain(session: Session, backend: SearchBackend, now: datetime, *, max_batches: int = 20) -> int:
    """Drain batches until the outbox is empty (or ``max_batches``), committing each."""
    # An engine's index must exist before the first write, or the engine would make one
    # with guessed mappings under the alias's name.
    backend.ensure_index()
    handled = 0
    for _ in range(max_batches):
        count = drain_once(session, backend, now)
        session.commit()
        handled += count
        if count < BATCH_SIZE:
            break
    return handled
