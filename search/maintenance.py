"""Keeping the index honest: ``creditreg search verify`` and ``creditreg search reindex``.

verify compares the database (each subject's revision) with the index (each document's
version): the counts, a checksum of the sorted (id, version) pairs on each side, and every
difference by kind. With ``repair`` it rewrites what is missing or behind and deletes what
should not be there. reindex builds a complete new index from the database while the old
one keeps serving, replays the outbox rows written meanwhile, and switches over at once.
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

from registry.outbox import SearchOutbox
from registry.subjects import Subject
from search.documents import build_documents
from search.engine import EngineBackend
from search.sql import SqlBackend
from search.sync import TOMBSTONE_VERSION

CHUNK = 1000


def checksum(pairs: dict[str, int]) -> str:
    digest = hashlib.sha256()
    for subject_id in sorted(pairs):
        digest.update(f"{subject_id}:{pairs[subject_id]}\n".encode())
    return digest.hexdigest()


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
            "repaired": self.repaired,
        }


def database_versions(session: Session) -> dict[str, int]:
    return {str(i): int(r) for i, r in session.execute(sa.select(Subject.id, Subject.revision))}


def verify(session: Session, backend: Any, *, repair: bool = False) -> VerifyReport:
    """Compare the database with the index; with ``repair``, fix what a write can fix.

    Documents indexed at a *newer* revision than the database (after a database restore,
    say) cannot be overwritten with external versions; they are reported for a reindex.
    """
    if isinstance(backend, EngineBackend):
        backend.refresh()
    truth = database_versions(session)
    indexed = backend.versions(session=session)
    report = VerifyReport(len(truth), len(indexed), checksum(truth), checksum(indexed))
    for subject_id, revision in truth.items():
        version = indexed.get(subject_id)
        if version is None:
            report.missing.append(subject_id)
        elif version < revision:
            report.behind.append(subject_id)
        elif version > revision:
            report.ahead.append(subject_id)
    report.extra = sorted(set(indexed) - set(truth))
    report.missing.sort()
    report.behind.sort()
    report.ahead.sort()
    if repair:
        stale = [uuid.UUID(i) for i in report.missing + report.behind]
        for start in range(0, len(stale), CHUNK):
            documents = build_documents(session, stale[start : start + CHUNK])
            done = backend.index([d for d in documents.values() if d], session=session)
            report.repaired += int(done.get("written", 0))
        if report.extra:
            done = backend.delete([(i, TOMBSTONE_VERSION) for i in report.extra], session=session)
            report.repaired += int(done.get("deleted", 0))
    return report


def _all_documents(session: Session) -> Iterator[list[dict[str, Any]]]:
    ids = list(session.scalars(sa.select(Subject.id).order_by(Subject.id)))
    for start in range(0, len(ids), CHUNK):
        documents = build_documents(session, ids[start : start + CHUNK])
        yield [d for d in documents.values() if d]


def _replay(session: Session, backend: EngineBackend, mark: int, target: str) -> set[uuid.UUID]:
    subject_ids = set(
        session.scalars(sa.select(SearchOutbox.subject_id).where(SearchOutbox.id > mark))
    )
    if subject_ids:
        documents = build_documents(session, subject_ids)
        backend.index([d for d in documents.values() if d], target=target)
    return subject_ids


def reindex(session: Session, backend: Any, now: datetime) -> dict[str, Any]:
    """Rebuild the index from the database without a gap in service."""
    mark = session.scalar(sa.select(sa.func.max(SearchOutbox.id))) or 0
    if isinstance(backend, SqlBackend):
        written = backend.replace_all(_all_documents(session), session=session)
        return {"backend": backend.name, "documents": written, "outbox_mark": mark}
    old = backend.current_index()
    new = backend.next_index()
    backend.create_index(new)
    written = 0
    for batch in _all_documents(session):
        written += backend.index(batch, target=new)["written"]
    # Changes committed while the copy ran are in the outbox after the mark: replay them
    # (external versions make replaying anything twice harmless).
    replayed_ids = _replay(session, backend, mark, new)
    backend.swap_alias(old, new)
    # What the worker wrote through the alias between the replay and the swap went to the
    # old index: replay once more, now that the alias points at the new one.
    replayed_ids |= _replay(session, backend, mark, new)
    if old is not None:
        backend.drop_index(old)
    return {
        "backend": backend.name,
        "documents": written,
        "outbox_mark": mark,
        "replayed": len(replayed_ids),
        "index": new,
        "previous": old,
    }
