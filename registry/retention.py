"""Retention and publication periods of credit records (DOMAIN.md "Retention and publication
periods"), and the sealed archive where records go when their retention ends.

Two different clocks, two different effects:

* **Publication** (公示) is what the public sees. Administrative penalties are published for a
  period set by severity, counted from the decision date; when the maximum is reached the
  penalty stops being published. Minor penalties are never published ("not published (at most
  3 months)": the 3 months is only the ceiling, should a minor penalty ever be shown). The end
  of publication is *not* the end of the record: it stays in member lookups and reports, and
  in the scorecard's input, until its retention ends. DOMAIN.md keeps the two apart (a
  publication period for penalties, a 5-year retention for all negative information), and the
  credit-reporting rules it follows stop public disclosure first and sharing later. Members
  see such a penalty marked as no longer published (:func:`penalty_publication`).
* **Retention** is how long negative information is kept at all: 5 years from the end of the
  event. Then the record leaves reports, lookups, the scorecard and the search index, and is
  *moved* to :class:`ArchivedCreditRecord`, a table only staff administrators can read, through
  ``creditreg archive`` (audited), never through the API.

  Some events go on until they end: a loan in default stays in default, a tax debt unpaid, a
  judgment unperformed, until it is paid or performed (the *open-ended* categories,
  ``RETENTION_OPEN_CATEGORIES``). An active negative record of such a category without an
  ``ended_at`` is *ongoing* and kept whatever its age: its 5 years start only when the
  submitter sends the end (a correction setting ``ended_at``). Counting them from the
  decision instead would clear a 2021 default still unpaid in 2026. So that no record stays
  open by neglect, the submitter is asked to confirm the open ones from time to time
  (registry.open_records). Other categories are one-off events: without an ``ended_at`` their
  clock starts at the decision or the event; so does a revoked record's, which no
  correction can end any more.

Moving rows out, rather than flagging them, is deliberate: every member-facing path reads
``credit_records``, and a flag would have to be remembered in each of them, today's and
tomorrow's. A row that is not there cannot leak. The record's versions move with it (into the
archive row, as they were), so the live tables keep no trace that another query could join.

Both effects run as one idempotent, batched worker job (:func:`retention_job`): each change
is audited and queues the subject (``touch_subjects``), so the search document, record counts
and rating proposals follow in the same way as after any other change.

Dates: a period that ends on a day ends at the start of that day on the registry's calendar
(REGISTRY_TIMEZONE), as every date in the registry is. A record therefore never leaves a day
early; it leaves at most one job interval after the day begins.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry.audit import Actor, ActorKind, record_event
from registry.clock import iso, local_date, start_of_day
from registry.db import Base, get_by_id
from registry.errors import Forbidden
from registry.outbox import touch_subjects
from registry.records import (
    RECORD_FIELDS,
    CreditRecord,
    CreditRecordVersion,
    Polarity,
    RecordCategory,
    RecordStatus,
    Severity,
    shared_with_members,
)
from registry.staff import StaffRole, StaffStatus, StaffUser
from registry.worker import batches_within

SYSTEM = Actor.system("retention")
BATCH = 500

# The records the public may see at all: the "double publicity" (双公示) decisions. Every
# other category (loan defaults, payment experience, court and tax records...) is shared with
# members only; list entries are published by the list workflow, not here.
PUBLIC_CATEGORIES = (RecordCategory.ADMINISTRATIVE_LICENCE, RecordCategory.ADMINISTRATIVE_PENALTY)
# A penalty without a severity is published like a general one (一般), the ordinary case: the
# shortest period would hide what the law publishes, the longest would over-publish.
DEFAULT_SEVERITY = Severity.GENERAL
DEFAULT_PUBLICATION_MONTHS = {Severity.MINOR: 3, Severity.GENERAL: 12, Severity.SERIOUS: 36}


# Events that last until they end (the default of RETENTION_OPEN_CATEGORIES).
DEFAULT_OPEN_CATEGORIES = frozenset(
    {
        RecordCategory.LOAN_DEFAULT,
        RecordCategory.TAX_ARREARS,
        RecordCategory.DISHONEST_DEBTOR,
        RecordCategory.COURT_JUDGMENT,
        RecordCategory.CONTRACT_PERFORMANCE,
        RecordCategory.PAYMENT_EXPERIENCE,
    }
)


@dataclass(frozen=True)
class RetentionPolicy:
    negative_years: int = 5
    # The maximum publication period of an administrative penalty, by severity.
    penalty_publication_months: Mapping[str, int] = field(
        default_factory=lambda: {str(k): v for k, v in DEFAULT_PUBLICATION_MONTHS.items()}
    )
    # Categories whose negative records stay until the submitter sends their end.
    open_categories: frozenset[str] = DEFAULT_OPEN_CATEGORIES
    # Days an ongoing record goes without its submitter confirming it before it is asked to.
    open_confirm_days: int = 365

    def publication_months(self, severity: str | None) -> int:
        return self.penalty_publication_months[severity or DEFAULT_SEVERITY]


def policy_from_settings(settings: Any) -> RetentionPolicy:
    return RetentionPolicy(
        negative_years=settings.RETENTION_NEGATIVE_YEARS,
        penalty_publication_months={
            Severity.MINOR: settings.PENALTY_PUBLICATION_MONTHS_MINOR,
            Severity.GENERAL: settings.PENALTY_PUBLICATION_MONTHS_GENERAL,
            Severity.SERIOUS: settings.PENALTY_PUBLICATION_MONTHS_SERIOUS,
        },
        open_categories=frozenset(settings.RETENTION_OPEN_CATEGORIES),
        open_confirm_days=settings.OPEN_RECORD_CONFIRM_DAYS,
    )


# --- the periods -------------------------------------------------------------------------------


def add_years_not_before(start: date, years: int) -> date:
    """The same day ``years`` later; 29 February gives 1 March, so "kept for N years" is
    never a day short."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return date(start.year + years, 3, 1)


def add_months_not_after(start: date, months: int) -> date:
    """The same day ``months`` later, or the last day of a shorter month, so "published for
    at most N months" is never a day too long."""
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _latest_start(today: date, ends_on: Callable[[date], date], max_days: int) -> date:
    """The latest start whose period has ended by ``today`` (``ends_on(start) <= today``).

    ``ends_on`` only grows with its start, so a search by halves finds the one cut-off date
    that selects due rows in SQL exactly, leap days and short months included."""
    low, high = today - timedelta(days=max_days), today  # ends_on(low) <= today < ends_on(high)
    while (high - low).days > 1:
        middle = low + timedelta(days=(high - low).days // 2)
        if ends_on(middle) <= today:
            low = middle
        else:
            high = middle
    return low


def is_ongoing(record: CreditRecord, policy: RetentionPolicy) -> bool:
    """An active negative record of an open-ended category whose end the submitter has not
    sent: the event goes on, and the record stays (:func:`ongoing`, in SQL)."""
    return (
        record.polarity == Polarity.NEGATIVE
        and record.status == RecordStatus.ACTIVE
        and record.category in policy.open_categories
        and record.ended_at is None
    )


def ongoing(policy: RetentionPolicy) -> sa.ColumnElement[bool]:
    """:func:`is_ongoing` as a filter."""
    if not policy.open_categories:
        return sa.false()
    return sa.and_(
        CreditRecord.polarity == Polarity.NEGATIVE,
        CreditRecord.status == RecordStatus.ACTIVE,
        CreditRecord.category.in_(sorted(policy.open_categories)),
        CreditRecord.ended_at.is_(None),
    )


def event_start(record: CreditRecord) -> date:
    """When the event began: the decision or the event date; without either, the day the
    registry received the record."""
    return record.decided_at or record.occurred_at or local_date(record.created_at)


def retention_start(record: CreditRecord, policy: RetentionPolicy) -> date | None:
    """When the 5-year clock starts: the end of the event; None while an open-ended event
    goes on (:func:`is_ongoing`); for a one-off event without an end, its start."""
    if record.ended_at is not None:
        return record.ended_at
    if is_ongoing(record, policy):
        return None
    return event_start(record)


def retention_ends_on(record: CreditRecord, policy: RetentionPolicy) -> date | None:
    """The day a record leaves the live registry; None for records kept (positive, neutral,
    or ongoing until their end is sent)."""
    if record.polarity != Polarity.NEGATIVE:
        return None
    start = retention_start(record, policy)
    return None if start is None else add_years_not_before(start, policy.negative_years)


def publication_ends_on(record: CreditRecord, policy: RetentionPolicy) -> date | None:
    """The day an administrative penalty stops being published, counted from its decision
    (:func:`event_start`); None for other records."""
    if record.category != RecordCategory.ADMINISTRATIVE_PENALTY:
        return None
    return add_months_not_after(event_start(record), policy.publication_months(record.severity))


def day_after(day: date) -> datetime:
    """The first instant after ``day`` on the registry's calendar."""
    return start_of_day(day + timedelta(days=1))


def started_by(first_dates: Iterable[Any], cutoff: date) -> sa.ColumnElement[bool]:
    """The period measured from the first of ``first_dates`` (else from receipt) began on
    or before ``cutoff``."""
    columns = list(first_dates)
    return sa.or_(
        sa.func.coalesce(*columns) <= cutoff,
        sa.and_(*(c.is_(None) for c in columns), CreditRecord.created_at < day_after(cutoff)),
    )


def _retention_due(today: date, policy: RetentionPolicy) -> sa.ColumnElement[bool]:
    cutoff = _latest_start(
        today,
        lambda start: add_years_not_before(start, policy.negative_years),
        366 * policy.negative_years + 2,
    )
    return sa.and_(
        CreditRecord.polarity == Polarity.NEGATIVE,
        sa.not_(ongoing(policy)),
        started_by(
            (CreditRecord.ended_at, CreditRecord.decided_at, CreditRecord.occurred_at), cutoff
        ),
    )


def _publication_over(today: date, policy: RetentionPolicy) -> sa.ColumnElement[bool]:
    """Penalties whose publication period has run out by ``today``, by their dates alone."""
    by_severity = []
    for severity in Severity:
        months = policy.publication_months(severity)
        cutoff = _latest_start(
            today, functools.partial(add_months_not_after, months=months), 31 * months + 2
        )
        matches = CreditRecord.severity == severity
        if severity == DEFAULT_SEVERITY:
            matches = sa.or_(matches, CreditRecord.severity.is_(None))
        by_severity.append(
            sa.and_(
                matches, started_by((CreditRecord.decided_at, CreditRecord.occurred_at), cutoff)
            )
        )
    return sa.and_(
        CreditRecord.category == RecordCategory.ADMINISTRATIVE_PENALTY, sa.or_(*by_severity)
    )


def publicly_shown(today: date, policy: RetentionPolicy) -> sa.ColumnElement[bool]:
    """The filter every public page and feed of records must apply: active licences, and
    penalties other than minor ones within their publication period. It checks the dates
    itself, so a penalty disappears from public view on the day, even before the job has
    marked it."""
    return sa.and_(
        CreditRecord.status == RecordStatus.ACTIVE,
        shared_with_members(),
        sa.or_(
            CreditRecord.category == RecordCategory.ADMINISTRATIVE_LICENCE,
            sa.and_(
                CreditRecord.category == RecordCategory.ADMINISTRATIVE_PENALTY,
                sa.or_(CreditRecord.severity.is_(None), CreditRecord.severity != Severity.MINOR),
                CreditRecord.publication_ended_at.is_(None),
                sa.not_(_publication_over(today, policy)),
            ),
        ),
    )


def publication_status(record: CreditRecord, today: date, policy: RetentionPolicy) -> str:
    """How a record stands towards the public, for member-facing views: ``published``,
    ``not_published`` (never shown to the public: not a licence or penalty, a minor penalty,
    or revoked) or ``publication_ended`` (a penalty past its publication period)."""
    if record.status != RecordStatus.ACTIVE or record.category not in PUBLIC_CATEGORIES:
        return "not_published"
    if record.category == RecordCategory.ADMINISTRATIVE_LICENCE:
        return "published"
    if record.severity == Severity.MINOR:
        return "not_published"
    ends = publication_ends_on(record, policy)
    if record.publication_ended_at is not None or (ends is not None and ends <= today):
        return "publication_ended"
    return "published"


def penalty_publication(session: Session, subject_id: uuid.UUID) -> dict[str, int]:
    """The subject's active administrative penalties by publication status, for member
    lookups: all of them still count in the record counts until their retention ends."""
    counts = {"published": 0, "not_published": 0, "publication_ended": 0}
    ended = CreditRecord.publication_ended_at.is_not(None)
    rows = session.execute(
        sa.select(CreditRecord.severity, ended, sa.func.count())
        .where(
            CreditRecord.subject_id == subject_id,
            CreditRecord.category == RecordCategory.ADMINISTRATIVE_PENALTY,
            CreditRecord.status == RecordStatus.ACTIVE,
            # Held until a person is told (registry.person_notices): not shared yet.
            shared_with_members(),
        )
        .group_by(CreditRecord.severity, ended)
    )
    for severity, is_ended, count in rows:
        if severity == Severity.MINOR:
            counts["not_published"] += count
        elif is_ended:
            counts["publication_ended"] += count
        else:
            counts["published"] += count
    return counts


# --- the sealed archive ------------------------------------------------------------------------


class ArchivedCreditRecord(Base):
    """A record whose retention ended: its full last state and every version, as they were.

    Sealed: nothing member-facing reads this table; staff administrators read it through
    ``creditreg archive``, each read audited."""

    __tablename__ = "archived_credit_records"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, comment="the record's own id")
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("subjects.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("members.id"), comment="the submitting member"
    )
    member_record_id: Mapped[str] = mapped_column(sa.String(128))
    category: Mapped[str] = mapped_column(sa.String(32))
    polarity: Mapped[str] = mapped_column(sa.String(16))
    record: Mapped[dict[str, Any]] = mapped_column(
        comment="the record row as it last was, registry fields included"
    )
    versions: Mapped[list[Any]] = mapped_column(comment="its version history, oldest first")
    retained_from: Mapped[date] = mapped_column(comment="when the retention clock started")
    retained_until: Mapped[date] = mapped_column(comment="the day it left the live registry")
    archived_at: Mapped[datetime]

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "subject_id": str(self.subject_id),
            "member_id": str(self.member_id),
            "member_record_id": self.member_record_id,
            "category": self.category,
            "polarity": self.polarity,
            "retained_from": self.retained_from.isoformat(),
            "retained_until": self.retained_until.isoformat(),
            "archived_at": iso(self.archived_at),
        }

    def view(self) -> dict[str, Any]:
        return {**self.summary(), "record": self.record, "versions": self.versions}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


_REGISTRY_FIELDS = (
    "id",
    "subject_id",
    "member_id",
    "member_record_id",
    "status",
    "version",
    "submission_id",
    "created_at",
    "updated_at",
    "publication_ended_at",
    "publicity_due_on",
    "publicity_late",
    "open_confirmed_at",
    "confirmation_requested_at",
)


def _full_state(record: CreditRecord) -> dict[str, Any]:
    return {name: _jsonable(getattr(record, name)) for name in (*_REGISTRY_FIELDS, *RECORD_FIELDS)}


def _version_state(version: CreditRecordVersion) -> dict[str, Any]:
    return {
        "id": version.id,
        "version": version.version,
        "op": version.op,
        "reason": version.reason,
        "state": version.state,
        "submission_id": _jsonable(version.submission_id),
        "recorded_at": iso(version.recorded_at),
    }


# --- the jobs ----------------------------------------------------------------------------------


def end_publications(
    session: Session, now: datetime, *, policy: RetentionPolicy, batch: int = BATCH
) -> int:
    """Mark one batch of active penalties whose publication period has ended; returns how
    many. Idempotent: a marked penalty is never selected again."""
    today = local_date(now)
    records = session.scalars(
        sa.select(CreditRecord)
        .where(
            CreditRecord.status == RecordStatus.ACTIVE,
            CreditRecord.publication_ended_at.is_(None),
            _publication_over(today, policy),
        )
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    # The search document does not show publication, and the scorecard reads the penalty
    # until its retention ends: the subject's revision and index follow, no new rating.
    # Subjects before the audit events: every job takes the subjects' rows before the
    # chain head, or two workers' jobs deadlock.
    touch_subjects(session, {r.subject_id for r in records}, at=now, rescore=False)
    for record in records:
        ends = publication_ends_on(record, policy)
        assert ends is not None and ends <= today  # what the query selected
        record.publication_ended_at = ends
        record_event(
            session,
            actor=SYSTEM,
            action="record.publication_ended",
            object_type="credit_record",
            object_id=str(record.id),
            before={"publication_ended_at": None},
            after={"publication_ended_at": ends.isoformat(), "severity": record.severity},
            reason="the publication period of the penalty ended",
            at=now,
        )
    return len(records)


def archive_expired(
    session: Session, now: datetime, *, policy: RetentionPolicy, batch: int = BATCH
) -> int:
    """Move one batch of negative records whose retention has ended into the sealed archive;
    returns how many. Idempotent: a moved record is no longer in ``credit_records``.

    Only ``credit_record_versions`` refers to ``credit_records`` (a test keeps it so): the
    versions go into the archive row and their live rows are deleted with the record's.
    """
    today = local_date(now)
    records = session.scalars(
        sa.select(CreditRecord)
        .where(_retention_due(today, policy))
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    if not records:
        return 0
    ids = [record.id for record in records]
    touch_subjects(session, {record.subject_id for record in records}, at=now)  # before events
    history: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for version in session.scalars(
        sa.select(CreditRecordVersion)
        .where(CreditRecordVersion.record_id.in_(ids))
        .order_by(CreditRecordVersion.record_id, CreditRecordVersion.version)
    ):
        history.setdefault(version.record_id, []).append(_version_state(version))
    for record in records:
        started = retention_start(record, policy)
        assert started is not None  # the query leaves ongoing records out
        until = add_years_not_before(started, policy.negative_years)
        session.add(
            ArchivedCreditRecord(
                id=record.id,
                subject_id=record.subject_id,
                member_id=record.member_id,
                member_record_id=record.member_record_id,
                category=record.category,
                polarity=record.polarity,
                record=_full_state(record),
                versions=history.get(record.id, []),
                retained_from=started,
                retained_until=until,
                archived_at=now,
            )
        )
        # The event says that the record left and when, not what it said: the content is
        # in the sealed archive only.
        record_event(
            session,
            actor=SYSTEM,
            action="record.archived",
            object_type="credit_record",
            object_id=str(record.id),
            before={"status": record.status, "version": record.version},
            after={"archived": True, "retained_from": started.isoformat()},
            reason=f"retention of negative information ended on {until.isoformat()}",
            at=now,
        )
    session.flush()  # the archive copies exist before the live rows go
    session.execute(sa.delete(CreditRecordVersion).where(CreditRecordVersion.record_id.in_(ids)))
    session.execute(sa.delete(CreditRecord).where(CreditRecord.id.in_(ids)))
    return len(records)


def run_retention(session: Session, now: datetime, *, policy: RetentionPolicy) -> int:
    """Both steps, one batch each (the worker's job loops over this). Archiving goes first,
    so a penalty past both periods leaves without being marked on its way out."""
    return archive_expired(session, now, policy=policy) + end_publications(
        session, now, policy=policy
    )


def retention_job(settings: Any, budget_seconds: float = 5.0) -> Callable[[Session, datetime], int]:
    """The worker's job: publication ends and archiving that are due, a batch per
    transaction, for up to ``budget_seconds`` a round; what is left waits for the next."""
    policy = policy_from_settings(settings)

    def step(session: Session, now: datetime) -> int:
        return run_retention(session, now, policy=policy)

    return batches_within(step, budget_seconds)


# --- reading the archive -----------------------------------------------------------------------


def archive_reader(session: Session, username: str, *, reason: str, at: datetime) -> Actor:
    """The actor for an active staff administrator, who alone may read the archive.

    A refusal is audited before it is raised, so the caller should keep (commit) the
    session's audit event even though the read did not happen.

    :raises Forbidden: the account does not exist, is disabled or is not an administrator.
    """
    user = session.scalar(sa.select(StaffUser).where(StaffUser.username == username.lower()))
    if user is None or user.status != StaffStatus.ACTIVE or StaffRole.ADMIN not in user.roles:
        record_event(
            session,
            actor=Actor(ActorKind.STAFF, str(user.id)) if user else Actor.system("cli"),
            action="archive.refused",
            object_type="archive",
            object_id="credit_records",
            after={"username": username[:64]},
            reason=reason,
            at=at,
        )
        raise Forbidden("only an active staff administrator may read the sealed archive")
    return Actor(ActorKind.STAFF, str(user.id))


def list_archive(
    session: Session,
    *,
    actor: Actor,
    reason: str,
    at: datetime,
    subject_id: uuid.UUID | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Archived records (newest first, without their content), audited."""
    query = sa.select(ArchivedCreditRecord).order_by(
        ArchivedCreditRecord.archived_at.desc(), ArchivedCreditRecord.id
    )
    if subject_id is not None:
        query = query.where(ArchivedCreditRecord.subject_id == subject_id)
    rows = [row.summary() for row in session.scalars(query.limit(limit))]
    record_event(
        session,
        actor=actor,
        action="archive.listed",
        object_type="archive",
        object_id=str(subject_id) if subject_id else "credit_records",
        after={"count": len(rows)},
        reason=reason,
        at=at,
    )
    return rows


def read_archive(
    session: Session, *, actor: Actor, record_id: str, reason: str, at: datetime
) -> dict[str, Any]:
    """One archived record with its full state and versions, audited.

    :raises NotFound: no archived record has this id.
    """
    row = get_by_id(session, ArchivedCreditRecord, record_id, what="archived record")
    record_event(
        session,
        actor=actor,
        action="archive.read",
        object_type="archived_credit_record",
        object_id=str(row.id),
        reason=reason,
        at=at,
    )
    return row.view()
