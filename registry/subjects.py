"""Subjects (信用主体): the enterprises, persons and online shops that records are about."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from registry.audit import Actor, record_event
from registry.db import Base, add_append_only, one_of, timestamp_now, utc_now, uuid_pk
from registry.errors import Conflict, InvalidInput
from registry.identifiers import (
    IdentifierError,
    mask_id_number,
    normalize_shop_id,
    validate_id_number,
    validate_uscc,
)
from registry.members import ActingMember, Member, MemberRole
from registry.names import NormalisedName, normalize_name
from registry.outbox import enqueue
from registry.security import IdentityVault


class SubjectKind(StrEnum):
    ENTERPRISE = "enterprise"
    PERSON = "person"
    SHOP = "shop"


class Subject(Base):
    __tablename__ = "subjects"
    __table_args__ = (
        one_of("kind", SubjectKind),
        # Each kind is identified by its own identifier; the database refuses a subject
        # that could never be matched again.
        sa.CheckConstraint(
            "(kind = 'enterprise' AND uscc IS NOT NULL)"
            " OR (kind = 'person' AND id_number_hash IS NOT NULL"
            "     AND id_number_ciphertext IS NOT NULL)"
            " OR (kind = 'shop' AND platform_member_id IS NOT NULL AND shop_id IS NOT NULL)",
            name="identified_by_kind",
        ),
        sa.UniqueConstraint("platform_member_id", "shop_id"),
    )

    id: Mapped[uuid_pk]
    kind: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(300), comment="current display name")
    name_normalised: Mapped[str] = mapped_column(sa.String(300), index=True)
    uscc: Mapped[str | None] = mapped_column(sa.String(18), unique=True)
    uscc_warnings: Mapped[str | None] = mapped_column(
        sa.String(100), comment="e.g. uscc.pilot_checksum: accepted early-pilot code"
    )
    id_number_hash: Mapped[str | None] = mapped_column(
        sa.String(80), unique=True, comment="HMAC-SHA256 of the resident ID number (matching)"
    )
    id_number_ciphertext: Mapped[str | None] = mapped_column(
        sa.Text, comment="AES-256-GCM copy of the ID number, for authorised reports only"
    )
    id_number_masked: Mapped[str | None] = mapped_column(sa.String(18))
    platform_member_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("members.id"))
    shop_id: Mapped[str | None] = mapped_column(sa.String(128))
    operator_uscc: Mapped[str | None] = mapped_column(
        sa.String(18), index=True, comment="a shop's operating company, when known"
    )
    region_code: Mapped[str | None] = mapped_column(sa.String(6), comment="GB/T 2260")
    industry_code: Mapped[str | None] = mapped_column(sa.String(8), comment="GB/T 4754")
    revision: Mapped[int] = mapped_column(
        default=1, comment="raised on every change; the search index uses it as external version"
    )
    created_at: Mapped[timestamp_now]
    updated_at: Mapped[timestamp_now]

    names: Mapped[list[SubjectName]] = relationship(
        back_populates="subject", order_by="SubjectName.valid_from", lazy="selectin"
    )
    platform: Mapped[Member | None] = relationship()


def represents(member: Member, subject: Subject) -> bool:
    """A member speaks for a subject that is itself (same USCC) or a shop it operates (the
    shop's operator USCC). A marketplace does not speak for the shops on it."""
    return member.uscc is not None and member.uscc in (subject.uscc, subject.operator_uscc)


def represented_by(member: Member) -> sa.ColumnElement[bool]:
    """:func:`represents` as a condition on ``subjects``, for queries."""
    if member.uscc is None:
        return sa.false()
    return sa.or_(Subject.uscc == member.uscc, Subject.operator_uscc == member.uscc)


def lock_subjects(session: Session, subject_ids: Iterable[uuid.UUID]) -> None:
    """Hold the subjects' rows (in id order, so two holders never deadlock) until commit.

    Every transaction that changes a subject and appends to the audit chain or the
    transparency log takes the subjects first: the chain head (registry.chains) is the last
    lock a transaction takes, or two of them could each hold what the other waits for.
    SQLite has one writer at a time and no FOR UPDATE; there this does nothing."""
    if session.get_bind().dialect.name == "sqlite":
        return
    session.execute(
        sa.select(Subject.id)
        .where(Subject.id.in_(sorted(set(subject_ids))))
        .order_by(Subject.id)
        .with_for_update()
    )


class SubjectName(Base):
    """Every name a subject has carried, so that a former name still finds it."""

    __tablename__ = "subject_names"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("subjects.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    name_normalised: Mapped[str] = mapped_column(sa.String(300), index=True)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None] = mapped_column(comment="NULL while the name is current")

    subject: Mapped[Subject] = relationship(back_populates="names")


@dataclass(frozen=True)
class SubjectDraft:
    """A subject's checked and normalised values, ready to be stored."""

    kind: str
    display: NormalisedName
    values: dict[str, object]
    region_code: str | None
    industry_code: str | None


def check_subject(
    *,
    vault: IdentityVault,
    kind: str,
    name: str,
    uscc: str | None = None,
    id_number: str | None = None,
    platform: ActingMember | None = None,
    shop_id: str | None = None,
    operator_uscc: str | None = None,
    region_code: str | None = None,
    industry_code: str | None = None,
    today: date | None = None,
    registered_by: ActingMember | None = None,
) -> SubjectDraft:
    """Check a new subject's identifier and name; all problems are reported together.

    A person's ID number comes out only as a keyed hash, an encrypted copy and a masked form.
    A shop registered by a member (``registered_by``, not staff) is registered by its
    platform only: anyone else naming a platform's shop would put up its public seller page.

    :raises InvalidInput: unknown kind, missing or invalid identifier, empty name, a shop
        of another platform.
    """
    errors: dict[str, list[str]] = {}
    values: dict[str, object] = {}
    display: NormalisedName | None = None
    if kind not in set(SubjectKind):
        errors["kind"] = [f"expected one of {', '.join(SubjectKind)}"]
    try:
        display = normalize_name(name)
    except ValueError:
        errors["name"] = ["a name is required"]
    if kind == SubjectKind.ENTERPRISE or (kind == SubjectKind.SHOP and operator_uscc):
        field, raw = (
            ("uscc", uscc) if kind == SubjectKind.ENTERPRISE else ("operator_uscc", operator_uscc)
        )
        if not raw:
            errors[field] = ["required for an enterprise"]
        else:
            try:
                check = validate_uscc(raw)
                values[field] = check.code
                if field == "uscc" and check.warnings:
                    values["uscc_warnings"] = ",".join(check.warnings)
            except IdentifierError as exc:
                errors[field] = [str(exc)]
    if kind == SubjectKind.PERSON:
        if not id_number:
            errors["id_number"] = ["required for a person"]
        else:
            try:
                number = validate_id_number(id_number, today=today).number
                protected = vault.protect(number)
                values.update(
                    id_number_hash=protected.keyed_hash,
                    id_number_ciphertext=protected.ciphertext,
                    id_number_masked=mask_id_number(number),
                )
            except IdentifierError as exc:
                errors["id_number"] = [str(exc)]
    if kind == SubjectKind.SHOP:
        if platform is None or not platform.has_role(MemberRole.PLATFORM):
            errors["platform"] = ["a shop belongs to a member with the platform role"]
        elif registered_by is not None and registered_by.id != platform.id:
            errors["platform"] = [
                "the platform has no shop with this shop_id; only the platform registers its shops"
            ]
        else:
            values["platform_member_id"] = platform.id
        try:
            values["shop_id"] = normalize_shop_id(shop_id or "")
        except IdentifierError as exc:
            errors["shop_id"] = [str(exc)]
    if region_code is not None and not (len(region_code) == 6 and region_code.isdigit()):
        errors["region_code"] = ["a six-digit GB/T 2260 code"]
    if errors or display is None:
        raise InvalidInput("the subject cannot be registered", errors)
    return SubjectDraft(kind, display, values, region_code, industry_code)


def _subject_values(draft: SubjectDraft, at: datetime) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "kind": draft.kind,
        "name": draft.display.original.strip(),
        "name_normalised": draft.display.normalised,
        "region_code": draft.region_code,
        "industry_code": draft.industry_code,
        "created_at": at,
        "updated_at": at,
        "revision": 1,
        **draft.values,
    }


def _record_registration(
    session: Session, actor: Actor, values: dict[str, object], at: datetime, *, audited: bool
) -> None:
    """A new subject's place in the search outbox, and its audit event when ``audited`` (a
    submission names the subjects it registers in its own event instead)."""
    enqueue(session, values["id"], at=at, registered=True)  # type: ignore[arg-type]
    if not audited:
        return
    # The audit trail names the subject by id; a person's number never enters it.
    record_event(
        session,
        actor=actor,
        action="subject.registered",
        object_type="subject",
        object_id=str(values["id"]),
        after={
            "kind": values["kind"],
            "name": values["name"],
            "uscc": values.get("uscc"),
            "id_number": values.get("id_number_masked"),
            "shop_id": values.get("shop_id"),
        },
        at=at,
    )


def add_subject(session: Session, *, actor: Actor, draft: SubjectDraft, at: datetime) -> Subject:
    """Add a checked subject to the session, without looking for an existing one (the
    caller has) and without a flush (its id is set here)."""
    values = _subject_values(draft, at)
    subject = Subject(**values)
    subject.names = [
        SubjectName(name=subject.name, name_normalised=subject.name_normalised, valid_from=at)
    ]
    session.add(subject)
    _record_registration(session, actor, values, at, audited=True)
    return subject


def add_subject_rows(
    session: Session,
    *,
    actor: Actor,
    draft: SubjectDraft,
    at: datetime,
    in_submission: bool = False,
) -> uuid.UUID:
    """:func:`add_subject` for bulk intake (inside :func:`registry.db.deferred_inserts`):
    the subject and its first name go in as plain rows, with no ORM object to build.
    ``in_submission``: the caller is a submission, whose own audit event names the subject
    (none is written for it)."""
    values = _subject_values(draft, at)
    add_append_only(session, Subject, values)
    add_append_only(
        session,
        SubjectName,
        {
            "subject_id": values["id"],
            "name": values["name"],
            "name_normalised": values["name_normalised"],
            "valid_from": at,
        },
    )
    _record_registration(session, actor, values, at, audited=not in_submission)
    return values["id"]  # type: ignore[return-value]


def register_subject(
    session: Session,
    *,
    actor: Actor,
    vault: IdentityVault,
    now: datetime | None = None,
    **subject: Any,
) -> Subject:
    """Create a subject after checking its identifier; all problems are reported together.

    ``subject`` holds the keyword arguments of :func:`check_subject` (kind, name, and the
    identifier of that kind).

    :raises InvalidInput: unknown kind, missing or invalid identifier, empty name.
    :raises Conflict: if a subject with the same identifier exists.
    """
    draft = check_subject(vault=vault, **subject)
    kind = draft.kind
    existing = find_subject(
        session,
        kind=kind,
        uscc=draft.values.get("uscc"),
        id_number_hash=draft.values.get("id_number_hash"),
        platform_member_id=draft.values.get("platform_member_id"),
        shop_id=draft.values.get("shop_id"),
    )
    if existing is not None:
        raise Conflict("a subject with this identifier exists", subject_id=str(existing.id))
    return add_subject(session, actor=actor, draft=draft, at=now or utc_now())


def find_subject(
    session: Session,
    *,
    kind: str,
    uscc: object = None,
    id_number_hash: object = None,
    platform_member_id: object = None,
    shop_id: object = None,
) -> Subject | None:
    """The subject with this kind's identifier (already normalised), if any."""
    query = sa.select(Subject).where(Subject.kind == kind)
    if kind == SubjectKind.ENTERPRISE:
        query = query.where(Subject.uscc == uscc)
    elif kind == SubjectKind.PERSON:
        query = query.where(Subject.id_number_hash == id_number_hash)
    elif kind == SubjectKind.SHOP:
        query = query.where(
            Subject.platform_member_id == platform_member_id, Subject.shop_id == shop_id
        )
    else:
        return None
    return session.scalar(query)


def rename_subject(
    session: Session, *, actor: Actor, subject: Subject, new_name: str, now: datetime | None = None
) -> Subject:
    """Give a subject a new current name; the former one stays in its name history.

    :raises InvalidInput: for an empty name.
    """
    try:
        display = normalize_name(new_name)
    except ValueError:
        raise InvalidInput("a name is required", {"name": ["a name is required"]}) from None
    if display.original.strip() == subject.name:
        return subject
    at = now or utc_now()
    for row in subject.names:
        if row.valid_until is None:
            row.valid_until = at
    before = {"name": subject.name}
    subject.name = display.original.strip()
    subject.name_normalised = display.normalised
    subject.names.append(
        SubjectName(name=subject.name, name_normalised=display.normalised, valid_from=at)
    )
    subject.revision += 1
    subject.updated_at = at
    enqueue(session, subject.id, at=at)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="subject.renamed",
        object_type="subject",
        object_id=str(subject.id),
        before=before,
        after={"name": subject.name},
        at=at,
    )
    return subject
