"""Notice to a person before negative information about them is shared.

Before negative information about a person is shared, the person is told (CRC Regulation,
art. 15). The registry holds every negative record on a person from the moment it accepts
it (``CreditRecord.held_for_notice``): members' lookups and screening (the record counts of
the search documents), members' reports, monitoring and ratings leave it out. The person's
own report shows it, marked as held. The hold ends:

* at once when the submitter confirms that the person was told, with the day and the
  channel: in the record itself (``person_notice`` in the submission), or later with
  ``POST /api/v1/records/person-notices``; the submitter's list of its held records is
  ``GET /api/v1/records/person-notices/held``;
* or ``PERSON_NOTICE_WAIT_DAYS`` days after the registry served its own notice, which staff
  record with its channel and day (``creditreg persons notice-served``); the worker's
  ``person-notice-releases`` job ends those holds when the days have passed.

Every step is in the audit log, and an ended hold queues the subject again, so the search
documents, monitoring and ratings take the record in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.audit import Actor, record_event
from registry.clock import iso, local_date
from registry.errors import Conflict, InvalidInput
from registry.members import Member
from registry.outbox import touch_subjects
from registry.records import (
    NOT_HELD,
    CreditRecord,
    Polarity,
    RecordStatus,
    find_member_records,
)
from registry.subjects import SubjectKind, lock_subjects
from registry.worker import JobFunction, batches_within

BATCH = 500
CONFIRM_MAX = 1000  # notices in one confirmation


class Channel(StrEnum):
    """How a person was told."""

    IN_PERSON = "in_person"
    LETTER = "letter"
    SMS = "sms"
    EMAIL = "email"
    PHONE = "phone"
    APP = "app"  # a message in the lender's or platform's app
    ANNOUNCEMENT = "announcement"  # a public announcement, when the person cannot be reached


class ToldBy(StrEnum):
    SUBMITTER = "submitter"
    REGISTRY = "registry"


@dataclass(frozen=True)
class NoticePolicy:
    wait_days: int  # PERSON_NOTICE_WAIT_DAYS: after the registry's own notice


def policy_from_settings(settings: Any) -> NoticePolicy:
    return NoticePolicy(wait_days=settings.PERSON_NOTICE_WAIT_DAYS)


def needs_notice(subject_kind: str, polarity: str) -> bool:
    return subject_kind == SubjectKind.PERSON and polarity == Polarity.NEGATIVE


def told_too_late(told_on: date, today: date) -> str | None:
    """Why a notice dated ``told_on`` is refused on ``today``, or None."""
    return f"on or before {today.isoformat()}" if told_on > today else None


def _told(notice: dict[str, Any], today: date) -> dict[str, Any]:
    """The columns of a submitter's notice; refused if it is dated after ``today``."""
    why = told_too_late(notice["told_on"], today)
    if why:
        raise InvalidInput(
            "the person cannot have been told after today", {"person_notice.told_on": [why]}
        )
    return {
        "held_for_notice": False,
        "person_told_on": notice["told_on"],
        "person_told_via": str(notice["channel"]),
        "person_told_by": str(ToldBy.SUBMITTER),
    }


def new_record_columns(
    subject_kind: str, polarity: str, notice: dict[str, Any] | None, today: date
) -> dict[str, Any]:
    """The notice columns of a new record: held when it is negative information about a
    person whose submitter did not say the person was told.

    :raises InvalidInput: a notice on a record that needs none, or dated in the future.
    """
    if not needs_notice(subject_kind, polarity):
        if notice is not None:
            raise InvalidInput(
                "only negative information about a person needs a notice",
                {"person_notice": ["only for a negative record on a person"]},
            )
        return NOT_HELD
    if notice is not None:
        return _told(notice, today)
    return {**NOT_HELD, "held_for_notice": True}


def after_correction(
    session: Session,
    *,
    actor: Actor,
    record: CreditRecord,
    subject_kind: str,
    notice: dict[str, Any] | None,
    at: datetime,
) -> None:
    """A correction that makes a record on a person negative holds it until the person is
    told (unless they were); a correction carrying a notice records it and ends the hold.

    :raises InvalidInput: as :func:`new_record_columns`.
    """
    if not needs_notice(subject_kind, record.polarity) or record.status != RecordStatus.ACTIVE:
        if notice is not None:
            new_record_columns(subject_kind, record.polarity, notice, local_date(at))
        # Corrected to positive (or revoked): nothing negative is left to hold. The
        # correction queues the subject and audits the change itself.
        record.held_for_notice = False
        return
    if notice is not None:
        if record.person_told_by == ToldBy.SUBMITTER:
            return  # told once; a resent notice changes nothing
        _set_told(session, actor, record, _told(notice, local_date(at)), at)
    elif record.person_told_on is None and not record.held_for_notice:
        record.held_for_notice = True


def _set_told(
    session: Session, actor: Actor, record: CreditRecord, columns: dict[str, Any], at: datetime
) -> None:
    before = view(record)
    released = record.held_for_notice and not columns["held_for_notice"]
    for name, value in columns.items():
        setattr(record, name, value)
    if released:
        # The subject before the audit event, which takes the chain head: the head is the
        # last lock a transaction takes (registry.subjects.lock_subjects).
        touch_subjects(session, [record.subject_id], at=at)
    record_event(
        session,
        actor=actor,
        action="record.person_told",
        object_type="credit_record",
        object_id=str(record.id),
        before=before,
        after=view(record),
        at=at,
    )


def _not_held(record: CreditRecord | None) -> str | None:
    """Why the person cannot be recorded as told of ``record``, or None."""
    if record is None:
        return "the member has no record with this id"
    if record.status != RecordStatus.ACTIVE:
        return "the record is revoked"
    if not record.held_for_notice:
        return "the record is not held: it is not negative information about a person, or " + (
            f"the person was told on {record.person_told_on.isoformat()}"
            if record.person_told_on
            else "it is shared already"
        )
    return None


def confirm_told(
    session: Session,
    *,
    actor: Actor,
    member: Member,
    notices: list[dict[str, Any]],
    at: datetime,
) -> list[CreditRecord]:
    """The submitter says each person was told (day and channel): each hold ends now, the
    subject's documents are queued, and each confirmation is audited. All or nothing.

    :raises InvalidInput: listing, by index, every notice that names no held record of the
        member or is dated after today.
    """
    found = find_member_records(session, member, [n["record_id"] for n in notices])
    today = local_date(at)
    errors: dict[str, list[str]] = {}
    for index, notice in enumerate(notices):
        why = _not_held(found.get(notice["record_id"]))
        if why:
            errors[f"notices.{index}.record_id"] = [why]
        late = told_too_late(notice["told_on"], today)
        if late:
            errors[f"notices.{index}.told_on"] = [late]
    if errors:
        raise InvalidInput(f"{len(errors)} notice(s) refused; nothing changed", errors)
    # Every subject locked at once, in id order, before the first audit event.
    lock_subjects(session, [found[n["record_id"]].subject_id for n in notices])
    confirmed: dict[str, CreditRecord] = {}
    for notice in notices:
        record = found[notice["record_id"]]
        if record.id not in {r.id for r in confirmed.values()}:
            _set_told(session, actor, record, _told(notice, today), at)
            confirmed[notice["record_id"]] = record
    return list(confirmed.values())


def record_registry_notice(
    session: Session,
    *,
    actor: Actor,
    record: CreditRecord,
    channel: str,
    served_on: date,
    policy: NoticePolicy,
    at: datetime,
) -> CreditRecord:
    """Staff record the registry's own notice to the person, served on ``served_on`` by
    ``channel``. The record is shared ``policy.wait_days`` later (at once if they have
    passed already).

    :raises InvalidInput: an unknown channel, or a day after today.
    :raises Conflict: the record is not held.
    """
    today = local_date(at)
    errors: dict[str, list[str]] = {}
    if channel not in set(Channel):
        errors["channel"] = [f"one of {', '.join(Channel)}"]
    late = told_too_late(served_on, today)
    if late:
        errors["served_on"] = [late]
    if errors:
        raise InvalidInput("the notice cannot be recorded", errors)
    why = _not_held(record)
    if not why and record.person_told_by == ToldBy.REGISTRY:
        why = f"the registry's notice was served on {iso(record.person_told_on)} already"
    if why:
        raise Conflict(why)
    columns = {
        "held_for_notice": served_on + timedelta(days=policy.wait_days) > today,
        "person_told_on": served_on,
        "person_told_via": channel,
        "person_told_by": str(ToldBy.REGISTRY),
    }
    _set_told(session, actor, record, columns, at)
    return record


def shared_from(record: CreditRecord, policy: NoticePolicy) -> date | None:
    """The day a held record will be shared, once the registry's notice is served."""
    if not record.held_for_notice or record.person_told_by != ToldBy.REGISTRY:
        return None
    assert record.person_told_on is not None
    return record.person_told_on + timedelta(days=policy.wait_days)


def release_due(
    session: Session, now: datetime, *, policy: NoticePolicy, batch: int = BATCH
) -> int:
    """End the holds whose registry notice was served ``policy.wait_days`` ago or more: one
    batch, audited, the subjects queued. Returns how many."""
    served_by = local_date(now) - timedelta(days=policy.wait_days)
    records = session.scalars(
        sa.select(CreditRecord)
        .where(
            CreditRecord.held_for_notice.is_(True),
            CreditRecord.person_told_by == ToldBy.REGISTRY,
            CreditRecord.person_told_on <= served_by,
        )
        .order_by(CreditRecord.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    # The subjects first, then the audit events (the chain head is the last lock taken).
    touch_subjects(session, [r.subject_id for r in records], at=now)
    for record in records:
        record.held_for_notice = False
        record_event(
            session,
            actor=Actor.system("person-notice-releases"),
            action="record.notice_hold_ended",
            object_type="credit_record",
            object_id=str(record.id),
            before={"held_for_notice": True},
            after={"held_for_notice": False},
            reason=f"{policy.wait_days} days after the registry's notice of "
            f"{iso(record.person_told_on)}",
            at=now,
        )
    return len(records)


def release_job(settings: Any, budget_seconds: float = 5.0) -> JobFunction:
    """The worker's job: the holds that are due, a batch per transaction."""
    policy = policy_from_settings(settings)

    def step(session: Session, now: datetime) -> int:
        return release_due(session, now, policy=policy)

    return batches_within(step, budget_seconds)


def held_records(
    session: Session, member_id: uuid.UUID, *, after: str | None = None, limit: int = 100
) -> list[CreditRecord]:
    """The member's records held until the person is told, by its own record id."""
    query = (
        sa.select(CreditRecord)
        .where(
            CreditRecord.member_id == member_id,
            CreditRecord.held_for_notice.is_(True),
            CreditRecord.status == RecordStatus.ACTIVE,
        )
        .order_by(CreditRecord.member_record_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(CreditRecord.member_record_id > after)
    return list(session.scalars(query))


def view(record: CreditRecord, policy: NoticePolicy | None = None) -> dict[str, Any]:
    item = {
        "record_id": record.member_record_id,
        "registry_id": str(record.id),
        "subject_id": str(record.subject_id),
        "category": record.category,
        "held_for_notice": record.held_for_notice,
        "told_on": iso(record.person_told_on),
        "channel": record.person_told_via,
        "told_by": record.person_told_by,
    }
    if policy is not None:
        item["shared_from"] = iso(shared_from(record, policy))
    return item
