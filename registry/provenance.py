"""Which audit event is the evidence that a record or a subject came to be.

A record or subject made outside a signed submission has an event of its own
(``record.created``, ``subject.registered``). One a submission makes has none: the
submission writes one ``submission.accepted`` event for everything it creates, beside its
transparency-log entry and the signed body it keeps. A record's first version names the
submission; the event lists the subjects the submission registered (``REGISTERED_SUBJECTS``).
:func:`creation_event` follows those links, so that a record's or a subject's history can
still begin with who made it, when, and under which chained event.

A record whose retention has ended has left the live tables with its versions (see
``registry.retention``): it is read through ``creditreg archive``, which is audited, and has
no provenance here.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.audit import AuditEvent
from registry.records import CreditRecordVersion
from registry.subjects import Subject
from registry.submissions import ACCEPTED_EVENT, REGISTERED_SUBJECTS


def creation_event(session: Session, object_type: str, object_id: str) -> AuditEvent | None:
    """The event that records how the ``credit_record`` or ``subject`` ``object_id`` was
    created: its own, or the event of the submission that created it. None for other
    kinds of object, an id that names nothing, or a record already archived."""
    try:
        key = uuid.UUID(object_id)
    except ValueError:
        return None
    own_action = {"credit_record": "record.created", "subject": "subject.registered"}.get(
        object_type
    )
    if own_action is None:
        return None
    own = session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.object_type == object_type,
            AuditEvent.object_id == str(key),
            AuditEvent.action == own_action,
        )
    )
    if own is not None:
        return own
    if object_type == "credit_record":
        return _submission_that_created_record(session, key)
    return _submission_that_registered_subject(session, key)


def _submission_that_created_record(session: Session, record_id: uuid.UUID) -> AuditEvent | None:
    submission_id = session.scalar(
        sa.select(CreditRecordVersion.submission_id).where(
            CreditRecordVersion.record_id == record_id, CreditRecordVersion.version == 1
        )
    )
    if submission_id is None:
        return None
    return session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.object_type == "submission",
            AuditEvent.object_id == str(submission_id),
            AuditEvent.action == ACCEPTED_EVENT,
        )
    )


def _submission_that_registered_subject(
    session: Session, subject_id: uuid.UUID
) -> AuditEvent | None:
    # The submission's event carries the submission's time, which is the subject's creation
    # time: that indexed column narrows the search to the events of that instant.
    created_at = session.scalar(sa.select(Subject.created_at).where(Subject.id == subject_id))
    if created_at is None:
        return None
    candidates = session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.occurred_at == created_at, AuditEvent.action == ACCEPTED_EVENT
        )
    )
    wanted = str(subject_id)
    return next(
        (e for e in candidates if wanted in ((e.after or {}).get(REGISTERED_SUBJECTS) or [])),
        None,
    )
