"""Open records: negative records whose event goes on until its submitter sends the end.

An *ongoing* record (:func:`registry.retention.is_ongoing`: an active negative record of an
open-ended category, such as a loan default, without an ``ended_at``) stays in the registry
whatever its age, and its 5 years of retention start only from the end the submitter sends.
It stays open only as long as the submitter stands by it: ``OPEN_RECORD_CONFIRM_DAYS`` after
the event began, or after the submitter last confirmed it, the record is *due for
confirmation*:

* it is in the submitter's list, ``GET /api/v1/records/confirmations/due``, from that day on
  and not before (worked out from the dates, whenever the list is read);
* the worker's ``open-record-confirmations`` job asks the submitter, once each time it falls
  due, with a ``record.confirmation_due`` event in the member's own monitoring stream, which
  the member's webhook delivers if it has one;
* the submitter answers with the end (a correction setting ``ended_at``), or confirms that
  the event still goes on, ``POST /api/v1/records/confirmations``: the time is recorded on
  the record (``open_confirmed_at``) and in the audit log, and the days start again.

A record the submitter does not answer for stays in the list, asked once.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.audit import Actor, record_event
from registry.clock import iso, local_date
from registry.errors import InvalidInput
from registry.members import Member
from registry.monitoring import MonitoringEvent, notify_members
from registry.records import CreditRecord, Polarity, RecordStatus, find_member_records
from registry.retention import (
    RetentionPolicy,
    day_after,
    event_start,
    is_ongoing,
    ongoing,
    policy_from_settings,
    started_by,
)
from registry.worker import JobFunction, batches_within

EVENT_TYPE = "record.confirmation_due"
BATCH = 500
CONFIRM_MAX = 1000  # record ids in one confirmation


def confirmed_or_started(record: CreditRecord) -> date:
    """The day the confirmation period runs from: the last confirmation, else the event's
    start."""
    if record.open_confirmed_at is not None:
        return local_date(record.open_confirmed_at)
    return event_start(record)


def confirmation_due_on(record: CreditRecord, policy: RetentionPolicy) -> date | None:
    """The day an ongoing record falls due for confirmation; None for any other record."""
    if not is_ongoing(record, policy):
        return None
    return confirmed_or_started(record) + timedelta(days=policy.open_confirm_days)


def due_for_confirmation(today: date, policy: RetentionPolicy) -> sa.ColumnElement[bool]:
    """Ongoing records whose confirmation is due by ``today`` (:func:`confirmation_due_on`)."""
    cutoff = today - timedelta(days=policy.open_confirm_days)
    confirmed = CreditRecord.open_confirmed_at
    return sa.and_(
        ongoing(policy),
        sa.or_(
            sa.and_(confirmed.is_not(None), confirmed < day_after(cutoff)),
            sa.and_(
                confirmed.is_(None),
                started_by((CreditRecord.decided_at, CreditRecord.occurred_at), cutoff),
            ),
        ),
    )


def view(record: CreditRecord, policy: RetentionPolicy) -> dict[str, Any]:
    """What the submitter is told about one of its open records."""
    due = confirmation_due_on(record, policy)
    return {
        "record_id": record.member_record_id,
        "registry_id": str(record.id),
        "subject_id": str(record.subject_id),
        "category": record.category,
        "open_since": event_start(record).isoformat(),
        "confirmed_at": iso(record.open_confirmed_at),
        "due_on": due.isoformat() if due else None,
        "requested_at": iso(record.confirmation_requested_at),
    }


def due_records(
    session: Session,
    member_id: Any,
    *,
    today: date,
    policy: RetentionPolicy,
    after: str | None = None,
    limit: int = 100,
) -> list[CreditRecord]:
    """The member's records due for confirmation, by its own record id, after ``after``."""
    query = (
        sa.select(CreditRecord)
        .where(CreditRecord.member_id == member_id, due_for_confirmation(today, policy))
        .order_by(CreditRecord.member_record_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(CreditRecord.member_record_id > after)
    return list(session.scalars(query))


def _not_open(record: CreditRecord | None, policy: RetentionPolicy) -> str | None:
    """Why ``record`` cannot be confirmed open, or None if it can."""
    if record is None:
        return "the member has no record with this id"
    if record.status != RecordStatus.ACTIVE:
        return "the record is revoked"
    if record.polarity != Polarity.NEGATIVE or record.category not in policy.open_categories:
        return f"a {record.polarity} {record.category} record is not kept open until it ends"
    if record.ended_at is not None:
        return f"the record ended on {record.ended_at.isoformat()}"
    return None


def confirm_open(
    session: Session,
    *,
    actor: Actor,
    member: Member,
    record_ids: list[str],
    at: datetime,
    policy: RetentionPolicy,
) -> list[CreditRecord]:
    """The member confirms that the events of these records of its own still go on: each
    confirmation is recorded with its time, audited, and starts the days again. All or
    nothing.

    :raises InvalidInput: listing, by index, every id that names no open record of the
        member (unknown, another member's, revoked, ended, or not open-ended).
    """
    found = find_member_records(session, member, record_ids)
    errors: dict[str, list[str]] = {}
    for index, record_id in enumerate(record_ids):
        why = _not_open(found.get(record_id), policy)
        if why:
            errors[f"record_ids.{index}"] = [why]
    if errors:
        raise InvalidInput(f"{len(errors)} record(s) cannot be confirmed; nothing changed", errors)
    confirmed = []
    for record_id in dict.fromkeys(record_ids):
        record = found[record_id]
        before = iso(record.open_confirmed_at)
        record.open_confirmed_at = at
        record_event(
            session,
            actor=actor,
            action="record.open_confirmed",
            object_type="credit_record",
            object_id=str(record.id),
            before={"open_confirmed_at": before},
            after={"open_confirmed_at": iso(at)},
            reason="the submitter confirmed that the event still goes on",
            at=at,
        )
        confirmed.append(record)
    return confirmed


def request_confirmations(
    session: Session, now: datetime, *, policy: RetentionPolicy, batch: int = BATCH
) -> int:
    """Ask the submitters of one batch of records newly due for confirmation (never asked
    since they last confirmed): a ``record.confirmation_due`` event in each submitter's own
    stream. Returns how many; idempotent."""
    requested = CreditRecord.confirmation_requested_at
    records = session.scalars(
        sa.select(CreditRecord)
        .where(
            due_for_confirmation(local_date(now), policy),
            sa.or_(
                requested.is_(None),
                sa.and_(
                    CreditRecord.open_confirmed_at.is_not(None),
                    # A confirmation at the very instant of the request answered it.
                    requested <= CreditRecord.open_confirmed_at,
                ),
            ),
        )
        .order_by(CreditRecord.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    events = []
    for record in records:
        record.confirmation_requested_at = now
        event = MonitoringEvent(
            subject_id=record.subject_id,
            type=EVENT_TYPE,
            item_id=str(record.id),
            old=None,
            new=view(record, policy),
            at=now,
            detected_at=now,
        )
        events.append((record.member_id, event))
    notify_members(session, events)
    return len(records)


def confirmation_job(settings: Any, budget_seconds: float = 5.0) -> JobFunction:
    """The worker's job: the requests that are due, a batch per transaction."""
    policy = policy_from_settings(settings)

    def step(session: Session, now: datetime) -> int:
        return request_confirmations(session, now, policy=policy)

    return batches_within(step, budget_seconds)
