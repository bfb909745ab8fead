"""Intake of signed submissions: one transaction stores the evidence and applies every record.

Either every record of a submission is applied or none is: the first pass collects the
domain errors of all records, and any error refuses the whole submission. Repeating a
submission id with the same body returns the first receipt and changes nothing.
"""

from __future__ import annotations

import dataclasses
import hmac
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry import tlog
from registry.audit import Actor, ActorKind, record_event
from registry.clock import local_date
from registry.db import among, deferred_inserts
from registry.errors import Conflict, InvalidInput, RegistryError
from registry.identifiers import (
    IdentifierError,
    normalize_shop_id,
    validate_id_number,
    validate_uscc,
)
from registry.members import ActingMember, Member, MemberRole
from registry.outbox import touch_subjects
from registry.publicity import PublicityRule, default_rule
from registry.receipts import RegistrySigner
from registry.records import (
    CreditRecord,
    RecordRef,
    apply_revoke,
    apply_upsert,
    create_record_rows,
    find_member_records,
)
from registry.security import IdentityVault
from registry.subjects import Subject, SubjectKind, add_subject_rows, check_subject
from registry.submissions import ACCEPTED_EVENT, REGISTERED_SUBJECTS, Submission

RECEIPT_TYPE = "creditreg.submission-receipt/v1"
# The record fields a member sends that are stored on the record itself; the category
# schemas' extra fields go into `details`.
DETAIL_FIELDS = ("due_date", "days_past_due", "consent_reference")


@dataclass(frozen=True)
class Evidence:
    """What the registry keeps to prove who sent what: the request exactly as verified."""

    key_id: str
    content_type: str
    body: bytes  # sealed with registry.security.EvidenceCipher
    body_digest: str
    signature_input: str
    signature: str
    signature_base: str

    def columns(self) -> dict[str, Any]:
        """The evidence columns every signed intake stores (submissions, seller-rating
        batches), under the same names."""
        return dataclasses.asdict(self)


def find_submission(
    session: Session, member: ActingMember, submission_id: str
) -> Submission | None:
    return session.scalar(
        sa.select(Submission).where(
            Submission.member_id == member.id, Submission.submission_id == submission_id
        )
    )


def replay_or_conflict(
    session: Session, member: ActingMember, submission_id: str, body_digest: str
) -> dict[str, Any] | None:
    """The receipt of the earlier submission with this id if the body is the same.

    Every signed write asks this first, so it reads the two columns it needs, not the
    stored request.

    :raises Conflict: if the id was used for a different body.
    """
    earlier = session.execute(
        sa.select(Submission.body_digest, Submission.receipt).where(
            Submission.member_id == member.id, Submission.submission_id == submission_id
        )
    ).first()
    if earlier is None:
        return None
    if not hmac.compare_digest(earlier.body_digest, body_digest):
        raise Conflict(
            "this submission id was already used for a different body", submission_id=submission_id
        )
    receipt: dict[str, Any] | None = earlier.receipt
    return receipt


SubjectKey = tuple[str, object, object]
"""How a submission names a subject: (kind, identifier, platform), normalised."""


def _subject_key(
    ref: dict[str, Any], *, vault: IdentityVault, member: ActingMember, today: date
) -> SubjectKey:
    """:raises InvalidInput: the identifier is invalid (the message never repeats it)."""
    kind = ref["kind"]
    try:
        if kind == SubjectKind.ENTERPRISE:
            return (kind, validate_uscc(ref["uscc"]).code, None)
        if kind == SubjectKind.PERSON:
            number = validate_id_number(ref["id_number"], today=today).number
            return (kind, vault.keyed_hash(number), None)
        platform_id = ref.get("platform") or (
            member.id if member.has_role(MemberRole.PLATFORM) else None
        )
        return (kind, normalize_shop_id(ref["shop_id"]), platform_id)
    except IdentifierError as exc:
        field = {"enterprise": "uscc", "person": "id_number"}.get(kind, "shop_id")
        raise InvalidInput("invalid subject identifier", {f"subject.{field}": [str(exc)]}) from None


def _known_subjects(session: Session, keys: set[SubjectKey]) -> dict[SubjectKey, uuid.UUID]:
    """The ids of the subjects that already exist for these keys: one query per kind."""
    found: dict[SubjectKey, uuid.UUID] = {}
    by_kind: dict[str, list[SubjectKey]] = {}
    for key in keys:
        by_kind.setdefault(key[0], []).append(key)
    for kind, wanted in by_kind.items():
        identifiers = sorted({str(key[1]) for key in wanted})
        column = {
            SubjectKind.ENTERPRISE: Subject.uscc,
            SubjectKind.PERSON: Subject.id_number_hash,
        }.get(SubjectKind(kind), Subject.shop_id)
        # The key columns and the id, not the subjects: building ORM objects cost more than
        # the query.
        rows = session.execute(
            sa.select(Subject.id, column, Subject.platform_member_id).where(
                Subject.kind == kind, among(session, column, identifiers)
            )
        )
        for subject_id, identifier, platform_id in rows:
            platform = platform_id if kind == SubjectKind.SHOP else None
            found[(kind, identifier, platform)] = subject_id
    return found


def _new_subject(
    session: Session,
    *,
    actor: Actor,
    vault: IdentityVault,
    member: ActingMember,
    ref: dict[str, Any],
    now: datetime,
    in_submission: bool = False,
) -> uuid.UUID:
    """Register the subject ``ref`` names. One a submission registers has no audit event of
    its own: the submission's event lists it (``registered_subjects``)."""
    platform = None
    if ref["kind"] == SubjectKind.SHOP:
        platform_id = ref.get("platform")
        platform = session.get(Member, platform_id) if platform_id else member
    try:
        draft = check_subject(
            vault=vault,
            kind=ref["kind"],
            name=ref["name"],
            uscc=ref.get("uscc"),
            id_number=ref.get("id_number"),
            platform=platform,
            shop_id=ref.get("shop_id"),
            operator_uscc=ref.get("operator_uscc"),
            region_code=ref.get("region_code"),
            industry_code=ref.get("industry_code"),
            today=local_date(now),
            registered_by=member,
        )
    except InvalidInput as exc:
        raise InvalidInput(exc.detail, {f"subject.{k}": v for k, v in exc.errors.items()}) from None
    return add_subject_rows(session, actor=actor, draft=draft, at=now, in_submission=in_submission)


def _record_fields(record: dict[str, Any]) -> dict[str, Any]:
    amount = record.get("amount")
    details = {
        name: (value.isoformat() if hasattr(value, "isoformat") else value)
        for name in DETAIL_FIELDS
        if (value := record.get(name)) is not None
    }
    return {
        "category": record["category"],
        "polarity": record["polarity"],
        "severity": record.get("severity"),
        "decided_at": record.get("decided_at"),
        "occurred_at": record.get("occurred_at"),
        "ended_at": record.get("ended_at"),
        "authority": record.get("authority"),
        "document_number": record.get("document_number"),
        "legal_basis": record.get("legal_basis"),
        "summary": record.get("summary"),
        "amount_value": amount["value"] if amount else None,
        "amount_currency": amount["currency"] if amount else None,
        "details": details,
    }


def accept_submission(
    session: Session,
    *,
    member: ActingMember,
    vault: IdentityVault,
    signer: RegistrySigner,
    submission_id: str,
    records: list[dict[str, Any]],
    evidence: Evidence,
    now: datetime,
    publicity: PublicityRule | None = None,
) -> Submission:
    """Store a validated submission and apply its records, all or nothing; flushes only.

    Licences and penalties are marked late or on time (双公示) against ``publicity``, the
    registry's rule from its settings (default: :func:`registry.publicity.default_rule`).

    :raises InvalidInput: listing, by record index, every record the domain refuses
        (a correction without a reason, a revocation of an unknown record, ...).
    """
    # Everything is looked up in a few set-wise queries first and written at the end, one
    # statement per table, so a 500-record submission costs a handful of statements.
    # One rule for the whole submission: it counts each decision date's deadline once.
    publicity = publicity or default_rule()
    with deferred_inserts(session):
        actor = Actor(ActorKind.MEMBER, str(member.id))
        submission = Submission(
            id=uuid.uuid4(),
            member_id=member.id,
            submission_id=submission_id,
            **evidence.columns(),
            received_at=now,
            record_count=len(records),
        )

        errors: dict[str, Any] = {}
        accepted: list[dict[str, Any]] = []
        with session.no_autoflush:
            keys: dict[int, SubjectKey] = {}
            for index, record in enumerate(records):
                if record["op"] == "revoke":
                    continue
                try:
                    keys[index] = _subject_key(
                        record["subject"], vault=vault, member=member, today=local_date(now)
                    )
                except InvalidInput as exc:
                    errors[f"records.{index}"] = exc.errors
            subjects = _known_subjects(session, set(keys.values()))
            existing = find_member_records(session, member, [r["record_id"] for r in records])
            known_subject_ids = set(subjects.values()) | {r.subject_id for r in existing.values()}
            for index, record in enumerate(records):
                if f"records.{index}" in errors:
                    continue
                try:
                    accepted.append(
                        _apply(
                            session,
                            actor=actor,
                            vault=vault,
                            member=member,
                            record=record,
                            subject_key=keys.get(index),
                            subjects=subjects,
                            existing=existing.get(record["record_id"]),
                            submission=submission,
                            now=now,
                            index=index,
                            publicity=publicity,
                        )
                    )
                except RegistryError as exc:
                    detail = getattr(exc, "errors", None) or {"_record": [exc.detail]}
                    errors[f"records.{index}"] = detail
        if errors:
            raise InvalidInput("the submission was refused; nothing was stored", errors)
        registered = [str(i) for i in subjects.values() if i not in known_subject_ids]
        # The submission row is written once, receipt and all, by the flush that ends the
        # block, before the new records that point at it. Records it corrects or revokes
        # point at it too and are written before its receipt exists (below): then it goes
        # in first, and its receipt follows in an update.
        if existing:
            session.add(submission)
        # Locks in the order the background jobs take them (records, then subjects in id
        # order, then the chain head), so a submission and a job never wait on each other:
        # the changed records are written now, before the subjects and the log.
        session.flush()
        # Every known subject whose records changed gets a new search document (new
        # subjects were queued when they were created).
        changed = {
            uuid.UUID(item["subject_id"]) for item in accepted if item["status"] != "unchanged"
        }
        touch_subjects(session, changed & known_subject_ids, at=now)

        receipt: dict[str, Any] = {
            "type": RECEIPT_TYPE,
            "member_id": str(member.id),
            "key_id": evidence.key_id,
            "submission_id": submission_id,
            "body_digest": evidence.body_digest,
            "received_at": now.isoformat().replace("+00:00", "Z"),
            "records": accepted,
        }
        # The log entry is made of the receipt's fields, and the receipt names its index.
        receipt["log_index"] = tlog.append(
            session, tlog.EntryKind.SUBMISSION, tlog.submission_entry(receipt), now
        )
        submission.receipt = {
            "receipt": receipt,
            "receipt_signature": signer.sign(receipt),
            "registry_key_id": signer.key_id,
        }
        session.add(submission)
        record_event(
            session,
            actor=actor,
            action=ACCEPTED_EVENT,
            object_type="submission",
            object_id=str(submission.id),
            # The evidence of every record and subject the submission created: the records'
            # first versions name the submission; the subjects are listed here.
            after={
                "submission_id": submission_id,
                "records": len(records),
                "body_digest": evidence.body_digest,
                REGISTERED_SUBJECTS: registered,
            },
            at=now,
        )
        return submission


def _apply(
    session: Session,
    *,
    actor: Actor,
    vault: IdentityVault,
    member: ActingMember,
    record: dict[str, Any],
    subject_key: SubjectKey | None,
    subjects: dict[SubjectKey, uuid.UUID],
    existing: CreditRecord | None,
    submission: Submission,
    now: datetime,
    index: int,
    publicity: PublicityRule,
) -> dict[str, Any]:
    if record["op"] == "revoke":
        revoked = apply_revoke(
            session,
            actor=actor,
            record=existing,
            reason=record["reason"],
            submission_id=submission.id,
            at=now,
        )
        return _accepted(index, record, revoked, "revoked")
    assert subject_key is not None  # every upsert's key was computed or refused
    subject_id = subjects.get(subject_key)
    if subject_id is None:
        subject_id = _new_subject(
            session,
            actor=actor,
            vault=vault,
            member=member,
            ref=record["subject"],
            now=now,
            in_submission=True,
        )
        # A later record about the same new subject finds this one.
        subjects[subject_key] = subject_id
    if existing is None:
        created = create_record_rows(
            session,
            actor=actor,
            member=member,
            subject_id=subject_id,
            member_record_id=record["record_id"],
            fields=_record_fields(record),
            reason=record.get("reason"),
            submission_id=submission.id,
            at=now,
            subject_kind=record["subject"]["kind"],
            person_notice=record.get("person_notice"),
            publicity=publicity,
            in_submission=True,
        )
        return _accepted(index, record, created, "created")
    stored, changed = apply_upsert(
        session,
        actor=actor,
        member=member,
        subject_id=subject_id,
        existing=existing,
        member_record_id=record["record_id"],
        fields=_record_fields(record),
        reason=record.get("reason"),
        submission_id=submission.id,
        at=now,
        subject_kind=record["subject"]["kind"],
        person_notice=record.get("person_notice"),
        publicity=publicity,
    )
    status = "corrected" if changed else "unchanged"
    return _accepted(index, record, stored, status)


def _accepted(
    index: int, record: dict[str, Any], stored: CreditRecord | RecordRef, status: str
) -> dict[str, Any]:
    return {
        "index": index,
        "record_id": record["record_id"],
        "registry_id": str(stored.id),
        "subject_id": str(stored.subject_id),
        "version": stored.version,
        "status": status,
    }


def resolve_subject(
    session: Session,
    ref: dict[str, Any],
    *,
    vault: IdentityVault,
    member: ActingMember,
    now: datetime,
) -> uuid.UUID:
    """The subject a reference names, registered if new (for requests other than
    submissions, e.g. a listing proposal).

    :raises InvalidInput: the identifier or the name is invalid.
    """
    key = _subject_key(ref, vault=vault, member=member, today=local_date(now))
    known = _known_subjects(session, {key})
    if key in known:
        return known[key]
    actor = Actor(ActorKind.MEMBER, str(member.id))
    return _new_subject(session, actor=actor, vault=vault, member=member, ref=ref, now=now)
