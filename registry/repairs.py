"""Credit repair (信用修复) beyond the list entry itself: who may apply, repair of an
administrative penalty's publication, and applications that miss their deadlines.

* **Who applies.** Repair is the subject's own step: the member that is the subject (same
  USCC) or operates the shop, or, for a person, who has no member, registry staff who
  checked the person's identity and write down how. Another member cannot ask for a
  competitor's entry to come down.
* **Penalties** (DOMAIN.md "Retention and publication periods"): a general administrative
  penalty is published for 3 months to 1 year from its decision, a serious one for 1 to 3
  years, a minor one not at all. After the minimum (``PENALTY_REPAIR_MONTHS_GENERAL`` and
  ``_SERIOUS``) the subject may apply, with the evidence that the penalty's obligations are
  performed and the conduct corrected and a public credit commitment; the authority that
  submitted the penalty decides, and a granted repair ends the publication that day. The
  penalty stays in member lookups and reports until its retention ends, as at the end of
  its period (registry.retention).
* **Deadlines** (``REPAIR_ACK_WORKING_DAYS``, ``REPAIR_DECISION_WORKING_DAYS``): an
  application the registry has not acknowledged, or the authority has not decided, by the
  last working day of its stage is escalated by the worker's ``repair-deadlines`` job:
  recorded, shown late in the reviewers' queue and on the dashboard.

The application itself, its acknowledgement and a list entry's repair live with the list
workflow (registry.listings); they share the table and the queue.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.audit import Actor, ActorKind, record_event
from registry.clock import iso, local_date
from registry.db import get_by_id
from registry.errors import Conflict, Forbidden, InvalidInput
from registry.identifiers import id_number_errors
from registry.listings import ListPolicy, RepairApplication
from registry.members import Member
from registry.outbox import touch_subjects
from registry.records import CreditRecord, RecordCategory, Severity
from registry.retention import add_months_not_after, event_start, publication_status
from registry.retention import policy_from_settings as retention_policy_from_settings
from registry.subjects import Subject, SubjectKind, represents

SYSTEM = Actor.system("repairs")


@dataclass(frozen=True)
class PenaltyRepairRule:
    """Months from its decision a penalty stays published before repair may end it, by
    severity; a severity without an entry (minor: never published) has nothing to repair."""

    months: dict[str, int]

    def earliest(self, record: CreditRecord) -> date | None:
        months = self.months.get(record.severity or Severity.GENERAL)
        return None if months is None else add_months_not_after(event_start(record), months)


def rule_from_settings(settings: Any) -> PenaltyRepairRule:
    return PenaltyRepairRule(
        {
            Severity.GENERAL: settings.PENALTY_REPAIR_MONTHS_GENERAL,
            Severity.SERIOUS: settings.PENALTY_REPAIR_MONTHS_SERIOUS,
        }
    )


# --- who applies -------------------------------------------------------------------------------


def check_subject_side(
    subject: Subject, actor: Actor, *, member: Member | None, identity_check: str | None
) -> None:
    """Only the subject's side applies for repair: see the module's docstring.

    :raises Forbidden: a member that does not represent the subject, staff for a subject
        that is not a person, anyone else.
    :raises InvalidInput: staff without the identity check.
    """
    if actor.kind == ActorKind.MEMBER:
        if member is not None and represents(member, subject):
            return
        raise Forbidden(
            "credit repair is applied for by the subject: the member that is the subject "
            "or operates the shop"
        )
    if actor.kind == ActorKind.STAFF:
        if subject.kind != SubjectKind.PERSON:
            raise Forbidden("staff apply for repair only for a person, who has no member")
        if not identity_check or not identity_check.strip():
            raise InvalidInput(
                "staff applying for a person record how they checked the identity",
                {"identity_check": ["required"]},
            )
        if errors := id_number_errors(identity_check=identity_check):
            raise InvalidInput("the identity check is kept as typed", errors)
        return
    raise Forbidden("credit repair is applied for by the subject")


def require_complete(correction_evidence: str, credit_commitment: str) -> None:
    errors: dict[str, list[str]] = {}
    if not correction_evidence or not correction_evidence.strip():
        errors["correction_evidence"] = ["required"]
    if not credit_commitment or not credit_commitment.strip():
        errors["credit_commitment"] = ["a public credit commitment is required"]
    if errors:
        raise InvalidInput("the application is incomplete", errors)


def file_application(
    session: Session,
    *,
    actor: Actor,
    identity_check: str | None,
    correction_evidence: str,
    credit_commitment: str,
    policy: ListPolicy,
    at: datetime,
    entry_id: uuid.UUID | None = None,
    record_id: uuid.UUID | None = None,
) -> RepairApplication:
    """Add the application for one item (a list entry or a penalty) and audit its filing;
    the caller has checked who applies and whether the item may be repaired."""
    application = RepairApplication(
        id=uuid.uuid4(),
        entry_id=entry_id,
        record_id=record_id,
        applicant=f"{actor.kind}:{actor.id}",
        identity_check=(
            identity_check.strip() if actor.kind == ActorKind.STAFF and identity_check else None
        ),
        correction_evidence=correction_evidence.strip(),
        credit_commitment=credit_commitment.strip(),
        status="filed",
        filed_at=at,
        acknowledge_by=policy.calendar.add_working_days(local_date(at), policy.repair_ack_days),
    )
    session.add(application)
    record_event(
        session,
        actor=actor,
        action="repair.filed",
        object_type=application.item_type,
        object_id=application.item_id,
        after={"application_id": str(application.id), "identity_check": application.identity_check},
        at=at,
    )
    return application


# --- penalties ---------------------------------------------------------------------------------


def apply_for_penalty_repair(
    session: Session,
    record: CreditRecord,
    *,
    actor: Actor,
    member: Member | None,
    correction_evidence: str,
    credit_commitment: str,
    identity_check: str | None = None,
    policy: ListPolicy,
    rule: PenaltyRepairRule,
    settings: Any,
    at: datetime,
) -> RepairApplication:
    """The subject applies to end a published penalty's publication early, after the
    minimum period of its severity."""
    subject = session.get(Subject, record.subject_id)
    assert subject is not None
    check_subject_side(subject, actor, member=member, identity_check=identity_check)
    require_complete(correction_evidence, credit_commitment)
    today = local_date(at)
    if record.category != RecordCategory.ADMINISTRATIVE_PENALTY:
        raise Conflict("credit repair of a record applies to an administrative penalty")
    earliest = rule.earliest(record)
    retention = retention_policy_from_settings(settings)
    published = publication_status(record, today, retention) == "published"
    if earliest is None or not published:
        raise Conflict(
            "the penalty is not published: there is no publication to end",
            severity=record.severity,
        )
    if today < earliest:
        raise Conflict(
            "credit repair is possible after the minimum publication period",
            repair_from=earliest.isoformat(),
        )
    if has_open_application(session, RepairApplication.record_id == record.id):
        raise Conflict("an application for this penalty is already open")
    return file_application(
        session,
        actor=actor,
        identity_check=identity_check,
        correction_evidence=correction_evidence,
        credit_commitment=credit_commitment,
        policy=policy,
        at=at,
        record_id=record.id,
    )


def decide_penalty_repair(
    session: Session,
    application: RepairApplication,
    *,
    actor: Actor,
    grant: bool,
    reason: str,
    at: datetime,
    acting_for: uuid.UUID | None = None,
) -> RepairApplication:
    """The authority that submitted the penalty decides; granted, its publication ends
    today (registry.retention's ``publication_ended_at``)."""
    record = get_by_id(session, CreditRecord, application.record_id or "", what="credit record")
    authority = str(record.member_id)
    allowed = (actor.kind == ActorKind.MEMBER and actor.id == authority) or (
        actor.kind == ActorKind.STAFF and acting_for is not None and str(acting_for) == authority
    )
    if not allowed:
        raise Forbidden("only the authority that submitted the penalty decides its repair")
    if grant:
        # Subjects before the audit events (the lock order of registry.subjects).
        touch_subjects(session, {record.subject_id}, at=at, rescore=False)
    application.status = "granted" if grant else "refused"
    application.decided_at = at
    application.decision_reason = reason.strip()
    application.escalated_at = None
    record_event(
        session,
        actor=actor,
        action=f"repair.{application.status}",
        object_type="credit_record",
        object_id=str(record.id),
        after={"application_id": str(application.id)},
        reason=reason,
        at=at,
    )
    if grant and record.publication_ended_at is None:
        record.publication_ended_at = local_date(at)
        record_event(
            session,
            actor=actor,
            action="record.publication_ended",
            object_type="credit_record",
            object_id=str(record.id),
            before={"publication_ended_at": None},
            after={"publication_ended_at": local_date(at).isoformat(), "by": "repair"},
            reason=reason,
            at=at,
        )
    return application


def has_open_application(session: Session, item: sa.ColumnElement[bool]) -> bool:
    return (
        session.scalar(
            sa.select(RepairApplication.id).where(
                item, RepairApplication.status.in_(["filed", "acknowledged"])
            )
        )
        is not None
    )


# --- deadlines ---------------------------------------------------------------------------------


def late_applications() -> sa.ColumnElement[bool]:
    """Applications escalated past the deadline of their current stage."""
    return sa.and_(
        RepairApplication.status.in_(["filed", "acknowledged"]),
        RepairApplication.escalated_at.is_not(None),
    )


def escalate_late(session: Session, now: datetime, *, batch: int = 500) -> int:
    """The worker's ``repair-deadlines`` job: every application still filed after its
    acknowledgement day, or still acknowledged after its decision day, is escalated
    (recorded once per stage; acknowledging starts the next stage afresh). Idempotent, and
    safe with several workers (SKIP LOCKED)."""
    today = local_date(now)
    due = session.scalars(
        sa.select(RepairApplication)
        .where(
            RepairApplication.escalated_at.is_(None),
            sa.or_(
                sa.and_(
                    RepairApplication.status == "filed", RepairApplication.acknowledge_by < today
                ),
                sa.and_(
                    RepairApplication.status == "acknowledged",
                    RepairApplication.decide_by < today,
                ),
            ),
        )
        .order_by(RepairApplication.filed_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    for application in due:
        application.escalated_at = now
        stage = "acknowledgement" if application.status == "filed" else "decision"
        record_event(
            session,
            actor=SYSTEM,
            action="repair.escalated",
            object_type=application.item_type,
            object_id=application.item_id,
            after={
                "application_id": str(application.id),
                "stage": stage,
                "due_on": iso(application.due_on),
            },
            reason=f"the {stage} is past its last working day",
            at=now,
        )
    return len(due)
