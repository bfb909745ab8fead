"""The projection: a subject's search document, built from the database (the truth).

Documents are built set-wise (a few queries for any number of subjects) because the worker
builds them by the hundred. A person's ID number appears only as its keyed hash; its masked
form and ciphertext never leave the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.clock import iso
from registry.db import among
from registry.list_kinds import list_names
from registry.name_parts import parse_name
from registry.names import normalize_name
from registry.records import (
    CreditRecord,
    Polarity,
    RecordCategory,
    RecordStatus,
    shared_with_members,
)
from registry.subjects import Subject, SubjectName
from search.text import name_tokens, pinyin_forms

CATEGORIES = tuple(str(c) for c in RecordCategory)
POLARITIES = tuple(str(p) for p in Polarity)


def empty_counts() -> dict[str, Any]:
    return {
        "total": 0,
        **{polarity: 0 for polarity in POLARITIES},
        "by_category": {c: {p: 0 for p in POLARITIES} for c in CATEGORIES},
    }


def record_counts(
    session: Session, subject_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Active records of each subject, by polarity and by category and polarity (subjects
    without any are left out: use :func:`empty_counts`)."""
    counts: dict[uuid.UUID, dict[str, Any]] = {}
    for subject_id, category, polarity, count in session.execute(
        sa.select(
            CreditRecord.subject_id,
            CreditRecord.category,
            CreditRecord.polarity,
            sa.func.count(),
        )
        .where(
            among(session, CreditRecord.subject_id, subject_ids),
            CreditRecord.status == RecordStatus.ACTIVE,
            # Negative information about a person is not shared before the person is told.
            shared_with_members(),
        )
        .group_by(CreditRecord.subject_id, CreditRecord.category, CreditRecord.polarity)
    ):
        total = counts.setdefault(subject_id, empty_counts())
        total["total"] += count
        total[polarity] += count
        total["by_category"][category][polarity] += count
    return counts


_SUBJECT_COLUMNS = sa.select(
    Subject.id,
    Subject.revision,
    Subject.kind,
    Subject.name,
    Subject.uscc,
    Subject.shop_id,
    Subject.platform_member_id,
    Subject.operator_uscc,
    Subject.id_number_hash,
    Subject.region_code,
    Subject.industry_code,
    Subject.updated_at,
)


def build_documents(
    session: Session, subject_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any] | None]:
    """Each subject's current document; None for a subject that no longer exists."""
    wanted = sorted(set(subject_ids))
    if not wanted:
        return {}
    # Rows of the columns a document uses, not ORM objects: no identity map to consult or
    # refresh, and no eager load of every subject's names (read once, below).
    subjects = {
        row.id: row
        for row in session.execute(_SUBJECT_COLUMNS.where(among(session, Subject.id, wanted)))
    }
    names: dict[uuid.UUID, list[str]] = {}
    for subject_id, name in session.execute(
        sa.select(SubjectName.subject_id, SubjectName.name)
        .where(among(session, SubjectName.subject_id, wanted))
        .order_by(SubjectName.valid_from.desc(), SubjectName.id.desc())
    ):
        names.setdefault(subject_id, []).append(name)
    counts = record_counts(session, wanted)
    from registry.listings import published_entries_of

    listed = published_entries_of(session, wanted)
    from registry.ratings import published_ratings

    rated = published_ratings(session, wanted)
    from registry.objections import disputed_items

    disputed = disputed_items(session, wanted)
    return {
        subject_id: (
            _document(
                subjects[subject_id],
                names.get(subject_id, []),
                counts.get(subject_id),
                listed.get(subject_id, []),
                rated.get(subject_id),
                disputed.get(subject_id),
            )
            if subject_id in subjects
            else None
        )
        for subject_id in wanted
    }


def _document(
    subject: Any,
    names: list[str],
    counts: dict[str, Any] | None,
    entries: list[Any],
    rating: Any = None,
    disputed: dict[str, set[str]] | None = None,
) -> dict[str, Any]:
    all_names = list(dict.fromkeys([subject.name, *names]))
    current = normalize_name(subject.name)
    parts = parse_name(subject.name)
    spelt = [pinyin_forms(name) for name in all_names]
    # Items under an open objection (异议): lookups and screening show the count, and each
    # published entry says whether it is disputed; which records are is on the subject's page.
    disputed_records = (disputed or {}).get("records", set())
    disputed_entries = (disputed or {}).get("list_entries", set())
    return {
        "id": str(subject.id),
        "version": subject.revision,
        "kind": subject.kind,
        "name": subject.name,
        "names": all_names,
        "name_normalised": current.normalised,
        "name_base": current.base,
        "legal_form": current.legal_form,
        "pinyin": [full for full, _ in spelt if full],
        "initials": [initials for _, initials in spelt if initials],
        "uscc": subject.uscc,
        "shop_id": subject.shop_id,
        "platform_id": str(subject.platform_member_id) if subject.platform_member_id else None,
        "operator_uscc": subject.operator_uscc,
        "id_number_hash": subject.id_number_hash,
        "region": subject.region_code,
        "industry": subject.industry_code,
        # Each kind and its side, so a search for the blacklist finds every public kind of it.
        "lists": list_names(entry.list_kind for entry in entries),
        "list_entries": [
            {
                "list": entry.list_kind,
                "authority": entry.authority,
                "since": iso(entry.published_at),
                "until": iso(entry.publish_until),
                "disputed": str(entry.id) in disputed_entries,
            }
            for entry in entries
        ],
        "disputed": len(disputed_records) + len(disputed_entries),
        "grade": rating.final_grade if rating is not None else None,
        "record_counts": counts or empty_counts(),
        "updated_at": subject.updated_at.isoformat().replace("+00:00", "Z"),
        "tokens": " ".join(name_tokens(all_names)),
        # Division, trade name (字号), industry and branch, as screening compares them.
        "name_parts": {
            "division": parts.division,
            "trade_name": parts.trade,
            "industry": parts.industry,
            "branch": parts.branch,
        },
        "trade_names": list(dict.fromkeys(parse_name(name).trade for name in all_names)),
    }
