"""Credit records (信用记录): typed facts about a subject, each from one submitting member.

A record is never deleted by an update: every create, correction and revocation adds a row
to its version history, and the record itself shows the latest state.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from registry.audit import Actor, record_event
from registry.clock import local_date
from registry.db import Base, add_append_only, one_of, timestamp_now, utc_now, uuid_pk
from registry.errors import Conflict, Forbidden, InvalidInput
from registry.members import ActingMember, Member
from registry.outbox import touch_subjects
from registry.subjects import Subject

if TYPE_CHECKING:
    from registry.publicity import PublicityRule
    from registry.submissions import Submission


class RecordCategory(StrEnum):
    ADMINISTRATIVE_LICENCE = "administrative_licence"  # 行政许可
    ADMINISTRATIVE_PENALTY = "administrative_penalty"  # 行政处罚
    COURT_JUDGMENT = "court_judgment"
    DISHONEST_DEBTOR = "dishonest_debtor"  # 失信被执行人
    TAX_ARREARS = "tax_arrears"
    CONTRACT_PERFORMANCE = "contract_performance"
    PAYMENT_EXPERIENCE = "payment_experience"
    LOAN_DEFAULT = "loan_default"
    HONOUR = "honour"
    CREDIT_COMMITMENT = "credit_commitment"  # 信用承诺
    CONSUMER_COMPLAINT = "consumer_complaint"


class Polarity(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    NEUTRAL = "neutral"


class Severity(StrEnum):
    MINOR = "minor"  # 轻微
    GENERAL = "general"  # 一般
    SERIOUS = "serious"  # 严重


class RecordStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class VersionOp(StrEnum):
    CREATE = "create"
    CORRECT = "correct"
    REVOKE = "revoke"


class CreditRecord(Base):
    __tablename__ = "credit_records"
    __table_args__ = (
        one_of("category", RecordCategory),
        one_of("polarity", Polarity),
        sa.CheckConstraint(
            "severity IS NULL OR severity IN ('minor', 'general', 'serious')",
            name="severity_allowed",
        ),
        one_of("status", RecordStatus),
        sa.CheckConstraint(
            "(amount_value IS NULL) = (amount_currency IS NULL)", name="amount_has_currency"
        ),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        # A member's own record id names one record for ever: corrections reuse it.
        sa.UniqueConstraint("member_id", "member_record_id"),
    )

    id: Mapped[uuid_pk]
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("subjects.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("members.id"), comment="the submitting member"
    )
    member_record_id: Mapped[str] = mapped_column(
        sa.String(128), comment="the submitter's own record id"
    )
    category: Mapped[str] = mapped_column(sa.String(32))
    polarity: Mapped[str] = mapped_column(sa.String(16))
    severity: Mapped[str | None] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16), default=RecordStatus.ACTIVE)
    version: Mapped[int] = mapped_column(default=1)
    decided_at: Mapped[date | None] = mapped_column(comment="date of the decision")
    occurred_at: Mapped[date | None] = mapped_column(comment="date of the event")
    ended_at: Mapped[date | None] = mapped_column(
        comment="end of the event: starts the 5-year retention clock of negative information"
    )
    publication_ended_at: Mapped[date | None] = mapped_column(
        comment="an administrative penalty: the day its publication period ended (set by the "
        "retention job, registry.retention); NULL while published"
    )
    publicity_due_on: Mapped[date | None] = mapped_column(
        comment="a licence or penalty (双公示): the last working day to publish it, counted "
        "from the decision (registry.publicity); NULL for other categories"
    )
    publicity_late: Mapped[bool | None] = mapped_column(
        comment="a licence or penalty: the registry received it after publicity_due_on; NULL "
        "for other categories"
    )
    open_confirmed_at: Mapped[datetime | None] = mapped_column(
        comment="a negative record open until its event ends (no ended_at): when its "
        "submitter last confirmed it is still open (registry.open_records)"
    )
    confirmation_requested_at: Mapped[datetime | None] = mapped_column(
        comment="when the registry last asked the submitter to confirm the open record"
    )
    held_for_notice: Mapped[bool] = mapped_column(
        default=False,
        server_default=sa.false(),
        comment="a negative record on a person, held from lookups, members' reports, "
        "monitoring and ratings until the person is told (registry.person_notices)",
    )
    person_told_on: Mapped[date | None] = mapped_column(
        comment="a negative record on a person: the day the person was told of it"
    )
    person_told_via: Mapped[str | None] = mapped_column(
        sa.String(16), comment="how the person was told (registry.person_notices.Channel)"
    )
    person_told_by: Mapped[str | None] = mapped_column(
        sa.String(16),
        comment="submitter: the submitter confirmed it; registry: the registry's "
        "own notice, served by staff",
    )
    authority: Mapped[str | None] = mapped_column(
        sa.String(200), comment="issuing authority or counterparty"
    )
    document_number: Mapped[str | None] = mapped_column(sa.String(100), comment="文书号")
    legal_basis: Mapped[str | None] = mapped_column(sa.Text)
    summary: Mapped[str | None] = mapped_column(sa.Text)
    amount_value: Mapped[Decimal | None]
    amount_currency: Mapped[str | None] = mapped_column(sa.String(3))
    details: Mapped[dict[str, Any]] = mapped_column(
        default=dict, comment="category-specific fields, e.g. due date and days past due"
    )
    submission_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("submissions.id"), comment="the signed submission that last changed it"
    )
    created_at: Mapped[timestamp_now]
    updated_at: Mapped[timestamp_now]

    subject: Mapped[Subject] = relationship()
    # Declared so that a flush writes the submission before the records that point at it.
    submission: Mapped[Submission | None] = relationship()
    member: Mapped[Member] = relationship()
    versions: Mapped[list[CreditRecordVersion]] = relationship(
        back_populates="record", order_by="CreditRecordVersion.version"
    )


sa.Index("ix_credit_records_subject_category", CreditRecord.subject_id, CreditRecord.category)
# The late 双公示 records by time of receipt, for the staff report and dashboard: a few rows
# of all, so a partial index costs the intake little.
# The records held until a person is told, for the submitters' lists and the release job: a
# few rows of all, as above.
sa.Index(
    "ix_credit_records_held_for_notice",
    CreditRecord.member_id,
    postgresql_where=CreditRecord.held_for_notice.is_(True),
    sqlite_where=CreditRecord.held_for_notice.is_(True),
)
sa.Index(
    "ix_credit_records_publicity_late",
    CreditRecord.created_at,
    postgresql_where=CreditRecord.publicity_late.is_(True),
    sqlite_where=CreditRecord.publicity_late.is_(True),
)


class CreditRecordVersion(Base):
    """One row per change of a record: the full state after the change, and why."""

    __tablename__ = "credit_record_versions"
    __table_args__ = (one_of("op", VersionOp), sa.UniqueConstraint("record_id", "version"))

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    record_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("credit_records.id"))
    version: Mapped[int]
    op: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    state: Mapped[dict[str, Any]] = mapped_column(comment="the record's fields after this change")
    submission_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("submissions.id"))
    recorded_at: Mapped[datetime]

    record: Mapped[CreditRecord] = relationship(back_populates="versions")
    submission: Mapped[Submission | None] = relationship()


# The fields a submitter controls; everything else is the registry's bookkeeping.
RECORD_FIELDS = (
    "category",
    "polarity",
    "severity",
    "decided_at",
    "occurred_at",
    "ended_at",
    "authority",
    "document_number",
    "legal_basis",
    "summary",
    "amount_value",
    "amount_currency",
    "details",
)


def _state_of(record: CreditRecord) -> dict[str, Any]:
    return _state_of_values({name: getattr(record, name) for name in ("status", *RECORD_FIELDS)})


def _state_of_values(values: dict[str, Any]) -> dict[str, Any]:
    """The JSON form of a record's state, kept in its versions and audit events."""
    state: dict[str, Any] = {"status": values["status"]}
    for name in RECORD_FIELDS:
        value = values.get(name)
        if isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        state[name] = value
    return state


@dataclass(frozen=True)
class RecordRef:
    """What the caller learns about a record created as plain rows."""

    id: uuid.UUID
    subject_id: uuid.UUID
    version: int


def _publicity_rule(rule: PublicityRule | None) -> PublicityRule:
    """The caller's 双公示 rule (the intake passes the configured one), else the default:
    the shipped calendars and 7 working days."""
    if rule is not None:
        return rule
    from registry.publicity import default_rule

    return default_rule()


def shared_with_members() -> sa.ColumnElement[bool]:
    """The records members may see: all but those held until a person is told
    (registry.person_notices). Every member-facing read of records applies it."""
    return CreditRecord.held_for_notice.is_(False)


# The notice columns of a record that needs no notice to a person (registry.person_notices).
NOT_HELD: dict[str, Any] = {
    "held_for_notice": False,
    "person_told_on": None,
    "person_told_via": None,
    "person_told_by": None,
}


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(RECORD_FIELDS)
    if unknown:
        raise InvalidInput("unknown record fields", {k: ["unknown field"] for k in sorted(unknown)})


def _new_record_values(
    *,
    member: ActingMember,
    subject_id: uuid.UUID,
    member_record_id: str,
    fields: dict[str, Any],
    submission_id: uuid.UUID | None,
    at: datetime,
    publicity: PublicityRule | None,
    notice_columns: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "details": {},
        **fields,
        # Held until the person is told, or not (registry.person_notices).
        **(notice_columns or NOT_HELD),
        # Every row carries the same columns, so that a submission's records are inserted in
        # one statement (registry.db.deferred_inserts).
        **_publicity_rule(publicity).marks(
            fields.get("category"), fields.get("decided_at"), local_date(at)
        ),
        "id": uuid.uuid4(),
        "subject_id": subject_id,
        "member_id": member.id,
        "member_record_id": member_record_id,
        "status": RecordStatus.ACTIVE,
        "version": 1,
        "submission_id": submission_id,
        "created_at": at,
        "updated_at": at,
    }


def _record_creation(
    session: Session,
    actor: Actor,
    values: dict[str, Any],
    reason: str | None,
    at: datetime,
    *,
    audited: bool,
) -> None:
    """The first version row of a new record, and its audit event when ``audited``.

    A record a signed submission creates (``create_record_rows(in_submission=True)``) has
    none: the submission's own event and transparency-log entry, with this version naming
    the submission, are the evidence (``registry.provenance`` finds the event from the
    record). One event a submission instead of one a record keeps the intake fast and the
    record's content out of the permanent hash chain (the version moves to the archive when
    the record's retention ends; an event could not)."""
    state = _state_of_values(values)
    add_append_only(
        session,
        CreditRecordVersion,
        {
            "record_id": values["id"],
            "version": 1,
            "op": str(VersionOp.CREATE),
            "reason": reason,
            "state": state,
            "submission_id": values["submission_id"],
            "recorded_at": at,
        },
    )
    if not audited:
        return
    record_event(
        session,
        actor=actor,
        action="record.created",
        object_type="credit_record",
        object_id=str(values["id"]),
        after=state,
        at=at,
    )


def create_record_rows(
    session: Session,
    *,
    actor: Actor,
    member: ActingMember,
    subject_id: uuid.UUID,
    member_record_id: str,
    fields: dict[str, Any],
    reason: str | None,
    submission_id: uuid.UUID | None,
    at: datetime,
    subject_kind: str,
    person_notice: dict[str, Any] | None = None,
    publicity: PublicityRule | None = None,
    in_submission: bool = False,
) -> RecordRef:
    """Create a record the caller knows to be new, as plain rows (bulk intake, inside
    :func:`registry.db.deferred_inserts`): no ORM object is built. Negative information
    about a person is held until the person is told (``person_notice``: the submitter says
    they were; registry.person_notices). ``in_submission``: the caller is a submission,
    whose own audit event stands for the record's creation (none is written for it).

    :raises InvalidInput: an unknown field, or a notice that does not belong.
    """
    _check_fields(fields)
    values = _new_record_values(
        member=member,
        subject_id=subject_id,
        member_record_id=member_record_id,
        fields=fields,
        submission_id=submission_id,
        at=at,
        publicity=publicity,
        notice_columns=_notice_columns(subject_kind, fields, person_notice, at),
    )
    add_append_only(session, CreditRecord, values)
    _record_creation(session, actor, values, reason, at, audited=not in_submission)
    return RecordRef(values["id"], subject_id, 1)


def upsert_record(
    session: Session,
    *,
    actor: Actor,
    member: ActingMember,
    subject: Subject,
    member_record_id: str,
    fields: dict[str, Any],
    reason: str | None = None,
    submission_id: uuid.UUID | None = None,
    now: datetime | None = None,
    publicity: PublicityRule | None = None,
    person_notice: dict[str, Any] | None = None,
) -> tuple[CreditRecord, bool]:
    """Create a record, or correct the member's existing record with the same id.

    Returns the record and whether anything changed (an identical resubmission changes
    nothing and adds no version). A licence or penalty is marked late or on time against
    ``publicity`` (default: :func:`registry.publicity.default_rule`).

    :raises InvalidInput: a correction without a reason, or an unknown field.
    :raises Conflict: correcting a revoked record, or moving a record to another subject.
    """
    at = now or utc_now()
    record, changed = apply_upsert(
        session,
        actor=actor,
        member=member,
        subject_id=subject.id,
        existing=find_member_record(session, member, member_record_id),
        member_record_id=member_record_id,
        fields=fields,
        reason=reason,
        submission_id=submission_id,
        at=at,
        subject_kind=subject.kind,
        person_notice=person_notice,
        publicity=publicity,
    )
    if changed:
        touch_subjects(session, [subject.id], at=at)
    return record, changed


def find_member_record(
    session: Session, member: ActingMember, member_record_id: str
) -> CreditRecord | None:
    return session.scalar(
        sa.select(CreditRecord).where(
            CreditRecord.member_id == member.id, CreditRecord.member_record_id == member_record_id
        )
    )


def find_member_records(
    session: Session, member: ActingMember, member_record_ids: Iterable[str]
) -> dict[str, CreditRecord]:
    """The member's records with these ids, in one query (for a whole submission)."""
    wanted = sorted(set(member_record_ids))
    if not wanted:
        return {}
    query = sa.select(CreditRecord).where(CreditRecord.member_id == member.id)
    if session.get_bind().dialect.name == "postgresql":
        # A join with the ids as a set, one index probe an id. psycopg prepares a statement
        # run five times, and PostgreSQL may then keep a generic plan made while the table
        # was small: with ``IN (...)`` that plan read every record of the member and
        # compared each with every id, so a 500-record batch took longer the more records
        # its member had (half of a batch's time by 8,000 records).
        ids = (
            sa.func.unnest(sa.bindparam("wanted_ids", wanted, type_=ARRAY(sa.String)))
            .table_valued("member_record_id")
            .render_derived(name="wanted")
        )
        query = query.join(ids, CreditRecord.member_record_id == ids.c.member_record_id)
    else:
        query = query.where(CreditRecord.member_record_id.in_(wanted))
    return {row.member_record_id: row for row in session.scalars(query)}


def apply_upsert(
    session: Session,
    *,
    actor: Actor,
    member: ActingMember,
    subject_id: uuid.UUID,
    existing: CreditRecord | None,
    member_record_id: str,
    fields: dict[str, Any],
    reason: str | None,
    submission_id: uuid.UUID | None,
    at: datetime,
    subject_kind: str,
    person_notice: dict[str, Any] | None = None,
    publicity: PublicityRule | None = None,
) -> tuple[CreditRecord, bool]:
    """:func:`upsert_record` once the member's existing record (if any) is known.

    Adds to the session without flushing, so a whole submission goes to the database in a
    few statements.
    """
    _check_fields(fields)
    record = existing
    if record is None:
        values = _new_record_values(
            member=member,
            subject_id=subject_id,
            member_record_id=member_record_id,
            fields=fields,
            submission_id=submission_id,
            at=at,
            publicity=publicity,
            notice_columns=_notice_columns(subject_kind, fields, person_notice, at),
        )
        record = CreditRecord(**values)
        session.add(record)
        _record_creation(session, actor, values, reason, at, audited=True)
        return record, True

    if record.subject_id != subject_id:
        raise Conflict("a record cannot move to another subject; revoke it and submit a new one")
    if record.status == RecordStatus.REVOKED:
        raise Conflict("the record is revoked and can no longer be corrected")
    before = _state_of(record)
    for name, value in fields.items():
        setattr(record, name, value)
    after = _state_of(record)
    if after == before:
        # A resubmission may still bring the notice to the person that ends a hold.
        _after_correction(session, actor, record, subject_kind, person_notice, at)
        return record, False
    if not reason or not reason.strip():
        # Roll the in-memory change back so the caller's session stays clean.
        for name in fields:
            session.expire(record, [name])
        raise InvalidInput("a correction needs a reason", {"reason": ["required for a correction"]})
    record.version += 1
    record.updated_at = at
    record.submission_id = submission_id
    if (after["category"], after["decided_at"]) != (before["category"], before["decided_at"]):
        # A corrected decision date or category is measured again against the record's
        # first receipt: that is when the registry had the decision.
        marks = _publicity_rule(publicity).marks(
            record.category, record.decided_at, local_date(record.created_at)
        )
        for name, value in marks.items():
            setattr(record, name, value)
    _add_version(session, record, VersionOp.CORRECT, reason, submission_id, at, after)
    record_event(
        session,
        actor=actor,
        action="record.corrected",
        object_type="credit_record",
        object_id=str(record.id),
        before=before,
        after=after,
        reason=reason,
        at=at,
    )
    _after_correction(session, actor, record, subject_kind, person_notice, at)
    return record, True


def _notice_columns(
    subject_kind: str, fields: dict[str, Any], notice: dict[str, Any] | None, at: datetime
) -> dict[str, Any]:
    from registry.person_notices import new_record_columns

    return new_record_columns(subject_kind, fields.get("polarity", ""), notice, local_date(at))


def _after_correction(
    session: Session,
    actor: Actor,
    record: CreditRecord,
    subject_kind: str,
    notice: dict[str, Any] | None,
    at: datetime,
) -> None:
    from registry.person_notices import after_correction

    after_correction(
        session, actor=actor, record=record, subject_kind=subject_kind, notice=notice, at=at
    )


def revoke_record(
    session: Session,
    *,
    actor: Actor,
    member: ActingMember,
    member_record_id: str,
    reason: str,
    submission_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> CreditRecord:
    """Revoke one of the member's records; it stays in history with the reason.

    :raises InvalidInput: without a reason.
    :raises Forbidden: if the record does not belong to the member (never reveals whether
        another member's record with that id exists).
    :raises Conflict: if it is already revoked.
    """
    at = now or utc_now()
    record = apply_revoke(
        session,
        actor=actor,
        record=find_member_record(session, member, member_record_id),
        reason=reason,
        submission_id=submission_id,
        at=at,
    )
    touch_subjects(session, [record.subject_id], at=at)
    return record


def apply_revoke(
    session: Session,
    *,
    actor: Actor,
    record: CreditRecord | None,
    reason: str,
    submission_id: uuid.UUID | None,
    at: datetime,
) -> CreditRecord:
    """:func:`revoke_record` once the member's record is looked up (None: it has none)."""
    if not reason or not reason.strip():
        raise InvalidInput("a revocation needs a reason", {"reason": ["required"]})
    if record is None:
        raise Forbidden("the member has no record with this id")
    if record.status == RecordStatus.REVOKED:
        raise Conflict("the record is already revoked")
    before = _state_of(record)
    record.status = RecordStatus.REVOKED
    record.version += 1
    record.updated_at = at
    record.submission_id = submission_id
    _add_version(session, record, VersionOp.REVOKE, reason, submission_id, at)
    record_event(
        session,
        actor=actor,
        action="record.revoked",
        object_type="credit_record",
        object_id=str(record.id),
        before=before,
        after=_state_of(record),
        reason=reason,
        at=at,
    )
    return record


def _add_version(
    session: Session,
    record: CreditRecord,
    op: VersionOp,
    reason: str | None,
    submission_id: uuid.UUID | None,
    at: datetime,
    state: dict[str, Any] | None = None,
) -> None:
    """Append the version row; ``state`` is the record's state if the caller has it."""
    add_append_only(
        session,
        CreditRecordVersion,
        {
            "record_id": record.id,
            "version": record.version,
            "op": str(op),
            "reason": reason,
            "state": state if state is not None else _state_of(record),
            "submission_id": submission_id,
            "recorded_at": at,
        },
    )
