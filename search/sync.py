"""Draining the search outbox into the backend (a ``creditreg worker`` job).

Rows are claimed oldest first; on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so several
workers share the work without waiting on each other (SQLite runs one worker). The claimed
subjects' documents are built from the database as it is now and written with external
versions; the rows are then marked processed in the same transaction that claimed them.
What happens to a row depends on what became of its subject's document:

- written, or already there at the same or a newer version: the row is done;
- refused by the engine as it is (a mapping that rejects one of its fields, say): the row
  is done too, so that one document cannot hold up the rows behind it for ever; the
  refusal is logged with the subject and the error and kept in ``search_refusals``, which
  ``search verify`` and readiness show, until a write of the subject succeeds (its next
  change, ``search verify --repair``, or a ``search reindex`` after the mapping is fixed);
- not taken for the moment (a blocked or missing index, an overloaded node), even after
  the engine backend's own retries: the row stays pending. The others' rows are marked
  and committed all the same, then :class:`WritesDeferred` tells the worker to back off.

If the engine does not answer at all, the write fails, the transaction rolls back, every
claimed row stays pending, and the worker tries again later. Nothing is lost either way:
rewriting a document that reached the engine before a failure is harmless, the external
version making it count as stale.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.db import among
from registry.outbox import SearchOutbox
from search.backends import SearchBackend
from search.documents import build_documents
from search.engine import ItemError, ItemErrors
from search.store import SearchRefusal

log = logging.getLogger(__name__)

BATCH_SIZE = 500
# Subject ids are never reused, so a deleted subject's tombstone may carry a version no
# later write can beat.
TOMBSTONE_VERSION = 2**62


class WritesDeferred(RuntimeError):
    """Some subjects of a batch could not be written for the moment; their outbox rows stay
    pending. The rest of the batch is marked done in the session: commit it."""

    def __init__(self, handled: int, deferred: set[str]) -> None:
        super().__init__(f"{len(deferred)} subject(s) left for a later try")
        self.handled = handled
        self.deferred = deferred


@dataclass
class Written:
    """What became of a set of documents written to the backend."""

    counts: Counter[str] = field(default_factory=Counter)
    refused: list[ItemError] = field(default_factory=list)
    deferred: set[str] = field(default_factory=set)  # subject ids to write again later


def write_documents(
    session: Session,
    backend: Any,
    documents: Mapping[uuid.UUID, dict[str, Any] | None],
    now: datetime,
    *,
    target: str | None = None,
) -> Written:
    """Write built documents (a tombstone for each None: the subject is gone), note what
    the engine refused and forget the refusals that no longer hold.

    Raises the backend's transport errors when it does not answer at all.
    """
    where = {"target": target} if target is not None else {}
    written = Written()
    current = [document for document in documents.values() if document is not None]
    gone = [(str(i), TOMBSTONE_VERSION) for i, document in documents.items() if document is None]
    for write, items in ((backend.index, current), (backend.delete, gone)):
        try:
            written.counts.update(write(items, session=session, **where))
        except ItemErrors as errors:
            written.counts.update(errors.counts)
            written.refused += errors.refused
            written.deferred |= {error.subject_id for error in errors.deferred}
    settled = [i for i in documents if str(i) not in written.deferred]
    if settled:
        session.execute(
            sa.delete(SearchRefusal).where(among(session, SearchRefusal.subject_id, settled))
        )
    for error in written.refused:
        log.error(
            "the search engine refused subject %s at revision %d: %s (status %d)",
            error.subject_id,
            error.version,
            error.type,
            error.status,
        )
        session.add(
            SearchRefusal(
                subject_id=uuid.UUID(error.subject_id),
                version=error.version,
                status=error.status,
                error_type=error.type[:100],
                reason=error.reason,
                refused_at=now,
            )
        )
    written.counts["refused"] += len(written.refused)
    session.flush()
    return written


def refusals(session: Session) -> list[SearchRefusal]:
    return list(session.scalars(sa.select(SearchRefusal).order_by(SearchRefusal.subject_id)))


def refused_count(session: Session) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(SearchRefusal)) or 0)


def drain_once(
    session: Session, backend: SearchBackend, now: datetime, *, batch: int = BATCH_SIZE
) -> int:
    """Apply one batch of pending outbox rows; returns how many rows it handled.

    Raises :class:`WritesDeferred` when some subjects could not be written for the moment,
    after marking the others' rows (commit, then try again later).
    """
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
    documents = build_documents(session, {subject_id for _, subject_id in rows})
    written = write_documents(session, backend, documents, now)
    done = [row_id for row_id, subject_id in rows if str(subject_id) not in written.deferred]
    if done:
        session.execute(
            sa.update(SearchOutbox)
            .where(among(session, SearchOutbox.id, done))
            .values(processed_at=now)
        )
    if written.deferred:
        raise WritesDeferred(len(done), written.deferred)
    return len(rows)


def drain(
    session: Session,
    backend: SearchBackend,
    now: datetime,
    *,
    max_batches: int = 20,
    batch: int = BATCH_SIZE,
) -> int:
    """Drain batches until the outbox is empty (or ``max_batches``), committing each.

    Raises :class:`WritesDeferred` (with what was done committed) when the engine would not
    take some documents for the moment, so that the worker backs off.
    """
    # An engine's index must exist before the first write, or the engine would make one
    # with guessed mappings under the alias's name.
    backend.ensure_index()
    handled = 0
    for _ in range(max_batches):
        try:
            count = drain_once(session, backend, now, batch=batch)
        except WritesDeferred:
            session.commit()
            raise
        session.commit()
        handled += count
        if count < batch:
            break
    return handled
