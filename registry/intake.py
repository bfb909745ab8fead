"""Intake of signed submissions: one transaction stores the evidence and applies every record.

Either every record of a submission is applied or none is: the first pass collects the
domain errors of all records, and any error refuses the whole submission. Repeating a
submission id with the same body returns the first receipt and changes nothing.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.audit import Actor, ActorKind, record_event
from registry.errors import Conflict, InvalidInput, RegistryError
from registry.identifiers import (
    IdentifierError,
    normalize_shop_id,
    validate_id_number,
    validate_uscc,
)
from registry.members import Member, MemberRole
from registry.receipts import RegistrySigner
from registry.records import CreditRecord, revoke_record, upsert_record
from registry.security import IdentityVault
from registry.subjects import Subject, SubjectKind, find_subject, register_subject
from registry.submissions import Submission

RECEIPT_TYPE = "creditreg.submission-receipt/v1"
# The record fields a member sends that are stored on the record itself; the category
# schemas' extra fields go into `details`.
DETAIL_FIELDS = ("due_date", "days_past_due")


@dataclass(frozen=True)
class Evidence:
    """What the registry keeps to prove who sent what: the request exactly as verified."""

    key_id: str
    content_type: str
    body: bytes
    body_digest: str
    signature_input: str
    signature: str
    signature_base: str


def find_submission(session: Session, member: Member, submission_id: str) -> Submission | None:
    return session.scalar(
        sa.select(Submission).where(
            Submission.member_id == member.id, Submission.submission_id == submission_id
        )
    )


def replay_or_conflict(
    session: Session, member: Member, submission_id: str, body_digest: str
) -> Submission | None:
    """The earlier submission with this id if the body is the same.

    :raises Conflict: if the id was used for a different body.
    """
    earlier = find_submission(session, member, submission_id)
    if earlier is None:
        return None
    if not hmac.compare_digest(earlier.body_digest, body_digest):
        raise Conflict(
            "this submission id was already used for a different body", submission_id=submission_id
        )
    return earlier


def _resolve_subject(
    session: Session,
    *,
    actor: Actor,
    vault: IdentityVault,
    member: Member,
    ref: dict[str, Any],
    now: datetime,
) -> Subject:
    kind = ref["kind"]
    try:
        if kind == SubjectKind.ENTERPRISE:
            found = find_subject(session, kind=kind, uscc=validate_uscc(ref["uscc"]).code)
        elif kind == SubjectKind.PERSON:
            number = validate_id_number(ref["id_number"], today=now.date()).number
            found = find_subject(session, kind=kind, id_number_hash=vault.keyed_hash(number))
        else:
            platform_id = ref.get("platform") or (
                member.id if member.has_role(MemberRole.PLATFORM) else None
            )
            found = find_subject(
                session,
                kind=kind,
                platform_member_id=platform_id,
                shop_id=normalize_shop_id(ref["shop_id"]),
            )
    except IdentifierError as exc:
        field = {"enterprise": "uscc", "person": "id_number"}.get(kind, "shop_id")
        raise InvalidInput("invalid subject identifier", {f"subject.{field}": [str(exc)]}) from None
    if found is not None:
        return found
    platform = None
    if kind == SubjectKind.SHOP:
        platform_id = ref.get("platform")
        platform = session.get(Member, platform_id) if platform_id else member
    try:
        return register_subject(
            session,
            actor=actor,
            vault=vault,
            kind=kind,
            name=ref["name"],
            uscc=ref.get("uscc"),
            id_number=ref.get("id_number"),
            platform=platform,
            shop_id=ref.get("shop_id"),
            operator_uscc=ref.get("operator_uscc"),
            region_code=ref.get("region_code"),
            industry_code=ref.get("industry_code"),
            now=now,
        )
    except InvalidInput as exc:
        raise InvalidInput(exc.detail, {f"subject.{k}": v for k, v in exc.errors.items()}) from None


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
    member: Member,
    vault: IdentityVault,
    signer: RegistrySigner,
    submission_id: str,
    records: list[dict[str, Any]],
    evidence: Evidence,
    now: datetime,
) -> Submission:
    """Store a validated submission and apply its records, all or nothing; flushes only.

    :raises InvalidInput: listing, by record index, every record the domain refuses
        (a correction without a reason, a revocation of an unknown record, ...).
    """
    actor = Actor(ActorKind.MEMBER, str(member.id))
    submission = Submission(
        id=uuid.uuid4(),
        member_id=member.id,
        key_id=evidence.key_id,
        submission_id=submission_id,
        content_type=evidence.content_type,
        body=evidence.body,
        body_digest=evidence.body_digest,
        signature_input=evidence.signature_input,
        signature=evidence.signature,
        signature_base=evidence.signature_base,
        received_at=now,
        record_count=len(records),
    )
    session.add(submission)
    session.flush()

    errors: dict[str, Any] = {}
    accepted: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        try:
            accepted.append(
                _apply(
                    session,
                    actor=actor,
                    vault=vault,
                    member=member,
                    record=record,
                    submission=submission,
                    now=now,
                    index=index,
                )
            )
        except RegistryError as exc:
            detail = getattr(exc, "errors", None) or {"_record": [exc.detail]}
            errors[f"records.{index}"] = detail
    if errors:
        raise InvalidInput("the submission was refused; nothing was stored", errors)

    receipt = {
        "type": RECEIPT_TYPE,
        "member_id": str(member.id),
        "key_id": evidence.key_id,
        "submission_id": submission_id,
        "body_digest": evidence.body_digest,
        "received_at": now.isoformat().replace("+00:00", "Z"),
        "records": accepted,
    }
    submission.receipt = {
        "receipt": receipt,
        "receipt_signature": signer.sign(receipt),
        "registry_key_id": signer.key_id,
    }
    record_event(
        session,
        actor=actor,
        action="submission.accepted",
        object_type="submission",
        object_id=str(submission.id),
        after={
            "submission_id": submission_id,
            "records": len(records),
            "body_digest": evidence.body_digest,
        },
        at=now,
    )
    session.flush()
    return submission


def _apply(
    session: Session,
    *,
    actor: Actor,
    vault: IdentityVault,
    member: Member,
    record: dict[str, Any],
    submission: Submission,
    now: datetime,
    index: int,
) -> dict[str, Any]:
    if record["op"] == "revoke":
        revoked = revoke_record(
            session,
            actor=actor,
            member=member,
            member_record_id=record["record_id"],
            reason=record["reason"],
            submission_id=submission.id,
            now=now,
        )
        return _accepted(index, record, revoked, "revoked")
    subject = _resolve_subject(
        session, actor=actor, vault=vault, member=member, ref=record["subject"], now=now
    )
    stored, changed = upsert_record(
        session,
        actor=actor,
        member=member,
        subject=subject,
        member_record_id=record["record_id"],
        fields=_record_fields(record),
        reason=record.get("reason"),
        submission_id=submission.id,
        now=now,
    )
    status = "unchanged" if not changed else ("created" if stored.version == 1 else "corrected")
    return _accepted(index, record, stored, status)


def _accepted(
    index: int, record: dict[str, Any], stored: CreditRecord, status: str
) -> dict[str, Any]:
    return {
        "index": index,
        "record_id": record["record_id"],
        "registry_id": str(stored.id),
        "subject_id": str(stored.subject_id),
        "version": stored.version,
        "status": status,
    }
