"""Keeping the index honest: ``creditreg search verify`` and ``creditreg search reindex``.

verify compares the database (each subject's revision) with the index (each document's
version): the counts, a checksum of the sorted (id, version) pairs on each side, and every
difference by kind, with the documents the engine refused and why. With ``repair`` it
rewrites what is missing or behind and deletes what should not be there. reindex builds a
complete new index from the database while the old one keeps serving, replays the outbox
rows written meanwhile, and switches over at once.

A reindex that dies before its switch (the engine node killed, say) leaves the alias on the
old, complete index and the new one half built. The next reindex drops such strays (every
versioned index of the alias it does not point at) before it builds: a half-built index
holds an unknown part of the documents, maybe under an older mapping, and rebuilding it
costs what checking it would. One reindex at a time: a second one would drop the first's
index under it (the first then fails at its switch, the alias still on the old index).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.db import utc_now
from registry.outbox import SearchOutbox
from registry.subjects import Subject
from search.documents import build_documents
from search.engine import EngineBackend, ItemErrors
from search.sql import SqlBackend
from search.store import SearchRefusal
from search.sync import TOMBSTONE_VERSION, Written, refusals, write_documents

CHUNK = 1000
# Ids compared a page at a time by verify: large pages keep the round trips few (an
# engine's default result window allows 10,000).
VERIFY_PAGE = 10_000


class Checksum:
    """A SHA-256 of (id, version) pairs fed in id order, as ``id:version`` lines: equal on
    both sides when they hold the same pairs, whichever side is how large."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.count = 0

    def add(self, subject_id: str, version: int) -> None:
        self._digest.update(f"{subject_id}:{version}\n".encode())
        self.count += 1

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


@dataclass
class VerifyReport:
    database: int
    index: int
    database_checksum: str
    index_checksum: str
    missing: list[str] = field(default_factory=list)  # in the database, not in the index
    behind: list[str] = field(default_factory=list)  # indexed at an older revision
    ahead: list[str] = field(default_factory=list)  # indexed at a newer revision (restore?)
    extra: list[str] = field(default_factory=list)  # in the index, not in the database
    # Documents the engine refused, and why (see search.sync): they are missing or behind.
    refused: list[dict[str, Any]] = field(default_factory=list)
    repaired: int = 0

    @property
    def clean(self) -> bool:
        return not (self.missing or self.behind or self.ahead or self.extra)

    def as_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "database": self.database,
            "index": self.index,
            "database_checksum": self.database_checksum,
            "index_checksum": self.index_checksum,
            "missing": self.missing,
            "behind": self.behind,
            "ahead": self.ahead,
            "extra": self.extra,
            "refused": self.refused,
            "repaired": self.repaired,
        }


def database_version_pages(session: Session, size: int) -> Iterator[list[tuple[str, int]]]:
    """Every subject's (id, revision), in pages in id order (the order the backends page
    their documents in: a UUID's text sorts as its bytes)."""
    after: uuid.UUID | None = None
    while True:
        query = sa.select(Subject.id, Subject.revision).order_by(Subject.id).limit(size)
        if after is not None:
            query = query.where(Subject.id > after)
        # Core rows, not ORM ones: a million of them, two plain columns.
        rows = session.connection().execute(query).all()
        if rows:
            yield [(str(subject_id), int(revision)) for subject_id, revision in rows]
        if len(rows) < size:
            return
        after = rows[-1][0]


def _pairs(pages: Iterator[list[tuple[str, int]]], sums: Checksum) -> Iterator[tuple[str, int]]:
    for page in pages:
        for subject_id, version in page:
            sums.add(subject_id, version)
            yield subject_id, version


def verify(
    session: Session,
    backend: Any,
    *,
    repair: bool = False,
    now: datetime | None = None,
    page: int | None = None,
) -> VerifyReport:
    """Compare the database with the index; with ``repair``, fix what a write can fix.

    Both sides are read in pages in id order and walked side by side, so memory holds the
    differences, never every id (at 200,000,000 subjects those would be some 20 GB).
    Documents indexed at a *newer* revision than the database (after a database restore,
    say) cannot be overwritten with external versions; they are reported for a reindex.
    Documents the engine refuses again stay missing or behind, their refusals noted.
    """
    if isinstance(backend, EngineBackend):
        backend.refresh()
    truth_sums, index_sums = Checksum(), Checksum()
    size = page or VERIFY_PAGE
    truth = _pairs(database_version_pages(session, size), truth_sums)
    indexed = _pairs(backend.version_pages(session=session, size=size), index_sums)
    missing: list[str] = []
    behind: list[str] = []
    ahead: list[str] = []
    extra: list[str] = []
    ours, theirs = next(truth, None), next(indexed, None)
    while ours is not None or theirs is not None:
        if theirs is None or (ours is not None and ours[0] < theirs[0]):
            assert ours is not None
            missing.append(ours[0])
            ours = next(truth, None)
        elif ours is None or theirs[0] < ours[0]:
            extra.append(theirs[0])
            theirs = next(indexed, None)
        else:
            if theirs[1] < ours[1]:
                behind.append(ours[0])
            elif theirs[1] > ours[1]:
                ahead.append(ours[0])
            ours, theirs = next(truth, None), next(indexed, None)
    report = VerifyReport(
        truth_sums.count,
        index_sums.count,
        truth_sums.hexdigest(),
        index_sums.hexdigest(),
        missing=missing,
        behind=behind,
        ahead=ahead,
        extra=extra,
    )
    if repair:
        stale = [uuid.UUID(i) for i in report.missing + report.behind]
        for start in range(0, len(stale), CHUNK):
            documents = build_documents(session, stale[start : start + CHUNK])
            written = write_documents(session, backend, documents, now or utc_now())
            report.repaired += written.counts["written"]
        if report.extra:
            items = [(i, TOMBSTONE_VERSION) for i in report.extra]
            try:
                done = backend.delete(items, session=session)
            except ItemErrors as errors:
                done = errors.counts  # what is left shows in the next verify
            report.repaired += int(done.get("deleted", 0))
    report.refused = [
        {
            "subject_id": str(row.subject_id),
            "version": row.version,
            "status": row.status,
            "error_type": row.error_type,
            "reason": row.reason,
            "refused_at": row.refused_at.isoformat(),
        }
        for row in refusals(session)
    ]
    return report


def _all_documents(session: Session) -> Iterator[dict[uuid.UUID, dict[str, Any] | None]]:
    """Every subject's document, a page of ids at a time (never every id at once)."""
    for page in database_version_pages(session, CHUNK):
        yield build_documents(session, [uuid.UUID(subject_id) for subject_id, _ in page])


def _copy(
    session: Session,
    backend: EngineBackend,
    documents: dict[uuid.UUID, Any],
    target: str,
    now: datetime,
) -> Written:
    """Write into the index being built; one that would miss documents is never switched to."""
    # Subjects gone since are simply left out of the new index: no tombstones.
    current = {subject_id: doc for subject_id, doc in documents.items() if doc is not None}
    written = write_documents(session, backend, current, now, target=target)
    if written.deferred:
        raise RuntimeError(
            f"the engine did not take {len(written.deferred)} document(s) into {target}; "
            "the alias stays where it was: reindex again later"
        )
    return written


def _replay(
    session: Session, backend: EngineBackend, mark: int, target: str, now: datetime
) -> set[uuid.UUID]:
    subject_ids = set(
        session.scalars(sa.select(SearchOutbox.subject_id).where(SearchOutbox.id > mark))
    )
    if subject_ids:
        _copy(session, backend, build_documents(session, subject_ids), target, now)
    return subject_ids


def reindex(session: Session, backend: Any, now: datetime) -> dict[str, Any]:
    """Rebuild the index from the database without a gap in service."""
    mark = session.scalar(sa.select(sa.func.max(SearchOutbox.id))) or 0
    if isinstance(backend, SqlBackend):
        written = backend.replace_all(
            ([d for d in batch.values() if d] for batch in _all_documents(session)),
            session=session,
        )
        # The database takes every document: whatever an engine refused before is in.
        session.execute(sa.delete(SearchRefusal))
        return {"backend": backend.name, "documents": written, "outbox_mark": mark}
    old = backend.current_index()
    dropped = backend.stray_indices()
    for name in dropped:
        backend.drop_index(name)
    new = backend.next_index()
    backend.create_index(new)
    written = refused = 0
    for batch in _all_documents(session):
        copied = _copy(session, backend, batch, new, now)
        written += copied.counts["written"]
        refused += len(copied.refused)
    # Changes committed while the copy ran are in the outbox after the mark: replay them
    # (external versions make replaying anything twice harmless).
    replayed_ids = _replay(session, backend, mark, new, now)
    # Documents the new index refuses are switched over without them, noted like the
    # worker's: holding the switch for them would let one document block every rebuild.
    backend.swap_alias(old, new)
    # What the worker wrote through the alias between the replay and the swap went to the
    # old index: replay once more, now that the alias points at the new one.
    replayed_ids |= _replay(session, backend, mark, new, now)
    if old is not None:
        backend.drop_index(old)
    return {
        "backend": backend.name,
        "documents": written,
        "refused": refused,
        "outbox_mark": mark,
        "replayed": len(replayed_ids),
        "index": new,
        "previous": old,
        "dropped": dropped,
    }
