"""Credit reports, the consents that open a person's report, and the subject's own report.

A report is generated once, stored with its id and the digest of its content, and written to
the query log; its JSON, printable HTML and PDF are renderings of the same stored content, so
what a member printed can be matched to what the registry said. A member reports on a person
only against a consent it recorded for that person, for the purpose the consent names. A
subject gets its own report free a configurable number of times a calendar year; it shows
every member that looked the subject up, when and why.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry.audit import Actor, record_event
from registry.calendar import WorkingCalendar, calendar_from_settings
from registry.clock import iso, local_date, start_of_day
from registry.db import Base, get_by_id, one_of, uuid_pk
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.identifiers import IdentifierError, validate_id_number
from registry.members import Member
from registry.querylog import QUERY_LOG, QueryPurpose, showed_subject
from registry.security import IdentityVault
from registry.seller_ratings import policy_from_settings
from registry.subjects import Subject, SubjectKind


class ConsentRequired(Forbidden):
    """A report on a person without a valid consent of theirs."""

    code = "consent-required"


class OwnReportQuota(Conflict):
    """The subject has had its free own reports of the year."""

    code = "own-report-quota"


class ReportExpired(NotFound):
    """A stored report past the days it stays available."""

    code = "report-expired"


class ReportKind(StrEnum):
    MEMBER = "member"  # a member's report on a counterparty
    OWN = "own"  # the subject's report on itself


class Consent(Base):
    """A person's consent, held by a member, to look up their credit information.

    It names the person by the keyed hash of their ID number, not by subject: a member records
    a consent before asking anything, and whether the registry holds the person must not show
    in the answer. It applies to the person with that number, registered now or later."""

    __tablename__ = "consents"

    id: Mapped[uuid_pk]
    member_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("members.id"), index=True)
    id_number_hash: Mapped[str] = mapped_column(
        sa.String(80), comment="HMAC-SHA256 of the person's ID number, as subjects hold it"
    )
    subject_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("subjects.id"),
        index=True,
        comment="the subject, when the member named it by id; none when it gave the number",
    )
    reference: Mapped[str] = mapped_column(
        sa.String(100), comment="the member's reference of the signed consent it keeps"
    )
    purpose: Mapped[str] = mapped_column(sa.String(32))
    given_on: Mapped[date]
    valid_until: Mapped[date]
    recorded_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "subject_id": str(self.subject_id) if self.subject_id else None,
            "reference": self.reference,
            "purpose": self.purpose,
            "given_on": self.given_on.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            "revoked_at": iso(self.revoked_at),
        }


class CreditReport(Base):
    __tablename__ = "credit_reports"
    __table_args__ = (one_of("kind", ReportKind),)

    id: Mapped[uuid_pk]
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("subjects.id"), index=True)
    member_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("members.id"),
        index=True,
        comment="who asked; none for a staff-issued own report",
    )
    kind: Mapped[str] = mapped_column(sa.String(8))
    purpose: Mapped[str] = mapped_column(sa.String(32))
    consent_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("consents.id"))
    generated_at: Mapped[datetime] = mapped_column(index=True)
    content: Mapped[dict[str, Any]]
    digest: Mapped[str] = mapped_column(sa.String(64), comment="SHA-256 of the content's JSON")


# --- consents -------------------------------------------------------------------------------


def record_consent(
    session: Session,
    *,
    actor: Actor,
    member: Member,
    vault: IdentityVault,
    subject: Subject | None = None,
    id_number: str | None = None,
    reference: str,
    purpose: str,
    given_on: date,
    valid_until: date,
    at: datetime,
) -> Consent:
    """Record the consent of the person named by ``subject`` or by ``id_number``.

    A number is taken whether or not the registry holds that person, and the answer is the
    same either way: the consent is stored against the number's keyed hash.

    :raises InvalidInput: every problem at once (not a person, an invalid number, dates).
    """
    errors: dict[str, list[str]] = {}
    id_number_hash = None
    if subject is not None:
        if subject.kind != SubjectKind.PERSON:
            errors["subject_id"] = ["consent is recorded for persons only"]
        id_number_hash = subject.id_number_hash
    elif id_number is not None:
        try:
            number = validate_id_number(id_number, today=local_date(at)).number
            id_number_hash = vault.keyed_hash(number)
        except IdentifierError as exc:
            errors["id_number"] = [str(exc)]
    if valid_until <= given_on:
        errors["valid_until"] = ["must follow given_on"]
    if given_on > local_date(at):
        errors["given_on"] = ["cannot lie in the future"]
    if valid_until < local_date(at):
        errors["valid_until"] = ["the consent has already expired"]
    if errors or id_number_hash is None:
        raise InvalidInput("the consent was refused", errors)
    consent = Consent(
        member_id=member.id,
        id_number_hash=id_number_hash,
        subject_id=subject.id if subject is not None else None,
        reference=reference,
        purpose=purpose,
        given_on=given_on,
        valid_until=valid_until,
        recorded_at=at,
    )
    session.add(consent)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="consent.recorded",
        object_type="consent",
        object_id=str(consent.id),
        after={"subject_id": consent.summary()["subject_id"], "purpose": purpose},
        at=at,
    )
    return consent


def own_consent(session: Session, member: Member, consent_id: str) -> Consent:
    try:
        consent: Consent | None = get_by_id(session, Consent, consent_id, what="consent")
    except NotFound:
        consent = None
    if consent is None or consent.member_id != member.id:
        raise NotFound("no consent with this id among the member's")
    return consent


def revoke_consent(session: Session, consent: Consent, *, actor: Actor, at: datetime) -> None:
    if consent.revoked_at is not None:
        raise Conflict("the consent was revoked already")
    consent.revoked_at = at
    record_event(
        session,
        actor=actor,
        action="consent.revoked",
        object_type="consent",
        object_id=str(consent.id),
        at=at,
    )


def check_consent(
    session: Session,
    *,
    member: Member,
    subject: Subject,
    consent_id: str | None,
    purpose: str,
    at: datetime,
) -> Consent:
    """The consent that lets ``member`` report on the person ``subject`` for ``purpose``.

    :raises ConsentRequired: no such consent of the member's, or not for this person, this
        purpose or today.
    """
    return check_consent_for_number(
        session,
        member=member,
        id_number_hash=subject.id_number_hash,
        consent_id=consent_id,
        purpose=purpose,
        at=at,
    )


def check_consent_for_number(
    session: Session,
    *,
    member: Member,
    id_number_hash: str | None,
    consent_id: str | None,
    purpose: str,
    at: datetime,
) -> Consent:
    """:func:`check_consent` for the person with this ID number's keyed hash, whether the
    registry holds them or not (a lookup by number must not tell)."""
    if not consent_id:
        raise ConsentRequired(
            "a person is looked up only with the person's consent: record it, then name it in "
            "the consent parameter"
        )
    try:
        consent = own_consent(session, member, consent_id)
    except NotFound as exc:
        raise ConsentRequired(exc.detail) from exc
    problem = None
    if id_number_hash is None or consent.id_number_hash != id_number_hash:
        problem = "the consent is for another person"
    elif consent.revoked_at is not None:
        problem = "the consent was revoked"
    elif not consent.given_on <= local_date(at) <= consent.valid_until:
        problem = "the consent is outside its validity"
    elif consent.purpose != purpose:
        problem = f"the consent was given for {consent.purpose}, not {purpose}"
    if problem:
        raise ConsentRequired(problem)
    return consent


# --- the report -----------------------------------------------------------------------------


def _record_line(record: Any, member_names: dict[uuid.UUID, str]) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "category": record.category,
        "polarity": record.polarity,
        "severity": record.severity,
        "status": record.status,
        "version": record.version,
        "decided_at": iso(record.decided_at),
        "occurred_at": iso(record.occurred_at),
        "ended_at": iso(record.ended_at),
        "authority": record.authority,
        "document_number": record.document_number,
        "legal_basis": record.legal_basis,
        "summary": record.summary,
        "amount": (
            {"value": str(record.amount_value), "currency": record.amount_currency}
            if record.amount_value is not None
            else None
        ),
        "submitted_by": member_names.get(record.member_id),
        # A licence or penalty (双公示): the last working day to publish it, and whether the
        # registry received it later than that (registry.publicity); null for the others.
        "publicity_due_on": iso(record.publicity_due_on),
        "publicity_late": record.publicity_late,
    }


def _member_names(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(sa.select(Member.id, Member.name).where(Member.id.in_(wanted)))
    return {member_id: name for member_id, name in rows}


def _identity(subject: Subject) -> dict[str, Any]:
    return {
        "id": str(subject.id),
        "kind": subject.kind,
        "name": subject.name,
        "uscc": subject.uscc,
        # A person's ID number never leaves the vault: the report shows the masked form.
        "id_number_masked": subject.id_number_masked,
        "shop_id": subject.shop_id,
        "platform_id": str(subject.platform_member_id) if subject.platform_member_id else None,
        "operator_uscc": subject.operator_uscc,
        "region": subject.region_code,
        "industry": subject.industry_code,
        "names": [
            {
                "name": row.name,
                "valid_from": iso(row.valid_from),
                "valid_until": iso(row.valid_until),
            }
            for row in subject.names
        ],
    }


def build_report(
    session: Session,
    subject: Subject,
    *,
    report_id: uuid.UUID,
    kind: ReportKind,
    purpose: str,
    at: datetime,
    seller_policy: Any,
    calendar: WorkingCalendar | None = None,
) -> dict[str, Any]:
    """The content of a report on ``subject`` as the registry has it at ``at``. An own
    report shows the entries in their notice stage, with their objection windows counted
    in ``calendar``'s working days."""
    from registry.listings import ListEntry, ListingState, published_entries_of
    from registry.ratings import history
    from registry.records import CreditRecord, RecordStatus, shared_with_members

    shown = [CreditRecord.subject_id == subject.id, CreditRecord.status == RecordStatus.ACTIVE]
    if kind != ReportKind.OWN:
        # Negative information about a person is shared once the person is told; their own
        # report shows it, marked held (registry.person_notices).
        shown.append(shared_with_members())
    records = list(
        session.scalars(
            sa.select(CreditRecord)
            .where(*shown)
            .order_by(
                CreditRecord.decided_at.desc(), CreditRecord.occurred_at.desc(), CreditRecord.id
            )
        )
    )
    from registry.objections import disputed_items

    names = _member_names(session, (r.member_id for r in records))
    disputed = disputed_items(session, [subject.id]).get(subject.id, {})
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        line = _record_line(record, names)
        line["disputed"] = str(record.id) in disputed.get("records", set())
        if record.held_for_notice:
            line["held_for_notice"] = True
        grouped.setdefault(record.category, []).append(line)
    ratings = history(session, subject.id)
    current = ratings[0] if ratings and ratings[0].status == "published" else None
    content: dict[str, Any] = {
        "report_id": str(report_id),
        "kind": str(kind),
        "generated_at": iso(at),
        "purpose": purpose,
        "subject": _identity(subject),
        "list_entries": [
            {
                **entry.public_view(),
                "disputed": str(entry.id) in disputed.get("list_entries", set()),
            }
            for entry in published_entries_of(session, [subject.id]).get(subject.id, [])
        ],
        "rating": current.summary() if current else None,
        "rating_history": [r.summary(explanation=False) for r in ratings[1:]],
        "records": [
            {"category": category, "count": len(lines), "records": lines}
            for category, lines in sorted(grouped.items())
        ],
        "seller_ratings": None,
    }
    if subject.kind == SubjectKind.SHOP and subject.platform_member_id is not None:
        from registry.seller_ratings import shop_summary

        platform = session.get(Member, subject.platform_member_id)
        if platform is not None and subject.shop_id:
            summary = shop_summary(
                session, platform, subject.shop_id, policy=seller_policy, today=local_date(at)
            )
            summary.pop("has_ratings", None)
            content["seller_ratings"] = summary
    if kind == ReportKind.OWN:
        # The subject sees its whole list history, removed entries included, and who looked.
        content["list_history"] = [
            {
                "id": str(entry.id),
                "list": entry.list_kind,
                "state": entry.state,
                "authority": entry.authority,
                "document_number": entry.document_number,
                "published_at": iso(entry.published_at),
                "removed_at": iso(entry.removed_at),
                "removal_reason": entry.removal_reason,
            }
            for entry in session.scalars(
                sa.select(ListEntry)
                .where(
                    ListEntry.subject_id == subject.id,
                    ListEntry.state.in_([ListingState.PUBLISHED, ListingState.REMOVED]),
                )
                .order_by(ListEntry.proposed_at)
            )
        ]
        # Entries in their notice stage: what is proposed, the notice, and how to object.
        content["pending_list_entries"] = [
            entry.pending_view(calendar or WorkingCalendar())
            for entry in session.scalars(
                sa.select(ListEntry)
                .where(ListEntry.subject_id == subject.id, ListEntry.state == ListingState.NOTICE)
                .order_by(ListEntry.notice_sent_at, ListEntry.id)
            )
        ]
        content["queries"] = queries_of(session, subject.id)
    return content


def queries_of(session: Session, subject_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every query of the query log that returned the subject: who, when, why, how."""
    table = QUERY_LOG
    rows = session.execute(
        sa.select(table.c.at, table.c.kind, table.c.purpose, Member.name)
        .join(Member, Member.id == table.c.member_id)
        .where(showed_subject(session, subject_id))
        # Lookups in the same instant keep the order they were logged in (newest first).
        .order_by(table.c.at.desc(), table.c.id.desc())
    ).all()
    return [
        {"member": member, "at": iso(at), "kind": kind, "purpose": purpose}
        for at, kind, purpose, member in rows
    ]


def own_reports_this_year(session: Session, subject_id: uuid.UUID, at: datetime) -> int:
    year_start = start_of_day(date(local_date(at).year, 1, 1))
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(CreditReport)
            .where(
                CreditReport.subject_id == subject_id,
                CreditReport.kind == ReportKind.OWN,
                CreditReport.generated_at >= year_start,
            )
        )
        or 0
    )


def issue_own_report(
    session: Session,
    subject: Subject,
    *,
    actor: Actor,
    member: Member | None,
    settings: Any,
    at: datetime,
) -> CreditReport:
    """The subject's own report, asked for by the subject itself (``member``: its member
    over the API) or for it by staff who checked its identity in person (``member`` None):
    no consent needed, and only the year's free ones (OWN_REPORTS_FREE_PER_YEAR)."""
    return issue_report(
        session,
        subject,
        actor=actor,
        member=member,
        kind=ReportKind.OWN,
        purpose=str(QueryPurpose.SUBJECT_CONSENT),
        consent=None,
        at=at,
        seller_policy=policy_from_settings(settings),
        own_reports_per_year=settings.OWN_REPORTS_FREE_PER_YEAR,
        calendar=calendar_from_settings(settings),
    )


def issue_report(
    session: Session,
    subject: Subject,
    *,
    actor: Actor,
    member: Member | None,
    kind: ReportKind,
    purpose: str,
    consent: Consent | None,
    at: datetime,
    seller_policy: Any,
    own_reports_per_year: int = 2,
    calendar: WorkingCalendar | None = None,
) -> CreditReport:
    """Generate, store and audit a report. An own report beyond the year's free ones is
    refused (Conflict with ``reason="own-report-quota"``)."""
    if kind == ReportKind.OWN:
        # Two requests at once (the API and a staff counter) must not both be the second
        # free report: the subject's row is held while counting and issuing.
        from registry.subjects import lock_subjects

        lock_subjects(session, [subject.id])
        used = own_reports_this_year(session, subject.id, at)
        if used >= own_reports_per_year:
            raise OwnReportQuota(
                f"the subject has had its {own_reports_per_year} free reports of "
                f"{local_date(at).year}",
                next_free=date(local_date(at).year + 1, 1, 1).isoformat(),
            )
    report_id = uuid.uuid4()
    content = build_report(
        session,
        subject,
        report_id=report_id,
        kind=kind,
        purpose=purpose,
        at=at,
        seller_policy=seller_policy,
        calendar=calendar,
    )
    digest = hashlib.sha256(
        json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()
    report = CreditReport(
        id=report_id,
        subject_id=subject.id,
        member_id=member.id if member is not None else None,
        kind=str(kind),
        purpose=purpose,
        consent_id=consent.id if consent is not None else None,
        generated_at=at,
        content=content,
        digest=digest,
    )
    session.add(report)
    session.flush()
    record_event(
        session,
        actor=actor,
        action=f"report.{kind}",
        object_type="credit_report",
        object_id=str(report.id),
        after={"subject_id": str(subject.id), "purpose": purpose},
        at=at,
    )
    return report


def get_report(session: Session, report_id: str) -> CreditReport:
    return get_by_id(session, CreditReport, report_id, what="report")
