"""Member organisations, their roles, and the public keys they sign requests with."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, cast

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from registry.audit import Actor, record_event
from registry.db import Base, one_of, timestamp_now, utc_now, uuid_pk
from registry.errors import Conflict, InvalidInput, NotFound, Worded
from registry.identifiers import IdentifierError, validate_uscc


class MemberKind(StrEnum):
    BANK = "bank"
    LENDER = "lender"
    MARKETPLACE = "marketplace"
    ENTERPRISE = "enterprise"
    RATING_AGENCY = "rating_agency"
    REGULATOR = "regulator"


class MemberRole(StrEnum):
    SUBMITTER = "submitter"  # sends credit records
    QUERIER = "querier"  # looks up, screens and monitors counterparties
    REGULATOR = "regulator"  # proposes list entries and decides repairs
    PLATFORM = "platform"  # a marketplace that submits seller ratings


# A platform's code names it in public URLs; it starts with a letter and is at most 32
# characters, so it can never be mistaken for a member id (a UUID), the fallback.
PLATFORM_CODE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,31}$")


class MemberStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class KeyAlgorithm(StrEnum):
    ED25519 = "ed25519"
    ECDSA_P256_SHA256 = "ecdsa-p256-sha256"


class KeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (one_of("kind", MemberKind), one_of("status", MemberStatus))

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(32))
    uscc: Mapped[str | None] = mapped_column(
        sa.String(18), unique=True, comment="the organisation's own USCC, when it has one"
    )
    status: Mapped[str] = mapped_column(sa.String(16), default=MemberStatus.ACTIVE)
    created_at: Mapped[timestamp_now]
    suspended_at: Mapped[datetime | None]
    platform_code: Mapped[str | None] = mapped_column(
        sa.String(32),
        index=True,
        unique=True,
        comment="a platform's short name in public URLs, e.g. taobao",
    )

    role_rows: Mapped[list[MemberRoleGrant]] = relationship(
        back_populates="member", cascade="all, delete-orphan", lazy="selectin"
    )
    keys: Mapped[list[MemberKey]] = relationship(back_populates="member", lazy="selectin")

    @property
    def roles(self) -> set[str]:
        return {row.role for row in self.role_rows}

    def has_role(self, role: MemberRole) -> bool:
        return str(role) in self.roles

    @property
    def is_active(self) -> bool:
        return self.status == MemberStatus.ACTIVE

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "kind": self.kind,
            "uscc": self.uscc,
            "roles": sorted(self.roles),
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "platform_code": self.platform_code,
        }


class MemberRoleGrant(Base):
    __tablename__ = "member_roles"
    __table_args__ = (one_of("role", MemberRole),)

    member_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    granted_at: Mapped[timestamp_now]

    member: Mapped[Member] = relationship(back_populates="role_rows")


class MemberKey(Base):
    __tablename__ = "member_keys"
    __table_args__ = (
        one_of("algorithm", KeyAlgorithm),
        one_of("status", KeyStatus),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_until > valid_from", name="validity_ordered"
        ),
        sa.CheckConstraint(
            "(status = 'revoked') = (revoked_at IS NOT NULL)", name="revocation_recorded"
        ),
    )

    id: Mapped[str] = mapped_column(
        sa.String(64),
        primary_key=True,
        comment="the keyid members put in signatures: RFC 7638 JWK thumbprint of the key",
    )
    member_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("members.id"), index=True)
    algorithm: Mapped[str] = mapped_column(sa.String(32))
    public_key_pem: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default=KeyStatus.ACTIVE)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    created_at: Mapped[timestamp_now]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(sa.Text)

    member: Mapped[Member] = relationship(back_populates="keys")

    def is_usable_at(self, when: datetime) -> bool:
        return key_usable_at(self.status, self.valid_from, self.valid_until, when)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "member_id": str(self.member_id),
            "algorithm": self.algorithm,
            "status": self.status,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoked_reason": self.revoked_reason,
            "public_key_pem": self.public_key_pem,
        }


class ActingMember(Protocol):
    """What acting for a member needs to know of it: its id and roles. A loaded
    :class:`Member` is one; so is a signed request's :class:`MemberOfRequest`."""

    @property
    def id(self) -> uuid.UUID: ...

    def has_role(self, role: MemberRole) -> bool: ...


@dataclass(frozen=True)
class MemberOfRequest:
    """The member a signed request acts for, as its signature's check read it (active, with
    these roles, at this request): no statement of its own."""

    id: uuid.UUID
    roles: frozenset[str]

    def has_role(self, role: MemberRole) -> bool:
        return str(role) in self.roles


def key_usable_at(
    status: str, valid_from: datetime, valid_until: datetime | None, when: datetime
) -> bool:
    """An active key inside its validity period."""
    if status != KeyStatus.ACTIVE or when < valid_from:
        return False
    return valid_until is None or when < valid_until


@dataclass(frozen=True)
class KeyGrant:
    """What checking a signature needs to know about a key: the key, whether its member is
    active, and the member's roles."""

    key_id: str
    member_id: uuid.UUID
    algorithm: str
    public_key_pem: str
    status: str
    valid_from: datetime
    valid_until: datetime | None
    member_status: str
    roles: frozenset[str]

    def is_usable_at(self, when: datetime) -> bool:
        return key_usable_at(self.status, self.valid_from, self.valid_until, when)


# A key as it stands, one row per role of its member: the columns of KeyGrant in its order.
# Written as SQL so that the nonce's claim (registry.access) reads the same columns in the
# same statement as it spends the nonce.
GRANT_COLUMNS = (
    "k.id AS key_id, k.member_id AS member_id, k.algorithm AS algorithm, "
    "k.public_key_pem AS public_key_pem, k.status AS key_status, k.valid_from AS valid_from, "
    "k.valid_until AS valid_until, m.status AS member_status, r.role AS role"
)
GRANT_FROM = (
    "FROM member_keys AS k JOIN members AS m ON m.id = k.member_id "
    "LEFT OUTER JOIN member_roles AS r ON r.member_id = k.member_id WHERE k.id = :key_id"
)


def grant_result_columns() -> tuple[sa.ColumnClause[Any], ...]:
    """GRANT_COLUMNS typed as their columns, so that ids and times read back alike on
    PostgreSQL and SQLite."""
    keys = cast(sa.Table, MemberKey.__table__)
    return (
        sa.column("key_id", keys.c.id.type),
        sa.column("member_id", keys.c.member_id.type),
        sa.column("algorithm", keys.c.algorithm.type),
        sa.column("public_key_pem", keys.c.public_key_pem.type),
        sa.column("key_status", keys.c.status.type),
        sa.column("valid_from", keys.c.valid_from.type),
        sa.column("valid_until", keys.c.valid_until.type),
        sa.column("member_status", sa.String()),
        sa.column("role", sa.String()),
    )


# Built once: SQLAlchemy would otherwise build the statement for every key met.
_KEY_GRANT = (
    sa.text(f"SELECT {GRANT_COLUMNS} {GRANT_FROM}")  # noqa: S608 - the module's constants
    .bindparams(sa.bindparam("key_id", type_=sa.String()))
    .columns(*grant_result_columns())
)


def load_key_grant(connection: Connection, key_id: str) -> KeyGrant | None:
    """The key, its member's status and roles in one statement (a row per role): read when
    a process meets a key for the first time (later requests read the grant with their
    nonce's claim, ``registry.access.claim_nonce``). Plain Core: no ORM identity map to
    fill."""
    rows = connection.execute(_KEY_GRANT, {"key_id": key_id}).all()
    return grant_from_rows(rows) if rows else None


def grant_from_rows(rows: Sequence[Sequence[Any]]) -> KeyGrant:
    """A key's grant from its rows, one per role of its member: (key id, member id,
    algorithm, PEM, key status, valid from, valid until, member status, role or None)."""
    found, member_id, algorithm, pem, status, valid_from, valid_until, member_status, _ = rows[0]
    return KeyGrant(
        key_id=found,
        member_id=member_id,
        algorithm=algorithm,
        public_key_pem=pem,
        status=status,
        valid_from=valid_from,
        valid_until=valid_until,
        member_status=member_status,
        roles=frozenset(row[8] for row in rows if row[8] is not None),
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public_key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public JWK (RFC 7517/8037) of an Ed25519 or P-256 key, with required members only."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}
    numbers = public_key.public_numbers()
    return {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint: SHA-256 over the required members, sorted, without whitespace."""
    canonical = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()
    return _b64url(hashlib.sha256(canonical).digest())


def load_public_key(
    pem: str | bytes, algorithm: KeyAlgorithm
) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
    """Parse a PEM public key and check that it fits ``algorithm``.

    :raises InvalidInput: if the PEM is not a public key or is of another type.
    """
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise InvalidInput(
            "the public key is not a PEM SubjectPublicKeyInfo",
            {"public_key": ["not a PEM public key"]},
        ) from None
    if algorithm == KeyAlgorithm.ED25519 and isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if (
        algorithm == KeyAlgorithm.ECDSA_P256_SHA256
        and isinstance(key, ec.EllipticCurvePublicKey)
        and isinstance(key.curve, ec.SECP256R1)
    ):
        return key
    detail = Worded("the public key does not fit algorithm %(algorithm)s", algorithm=algorithm)
    expected = Worded("expected a key for %(algorithm)s", algorithm=algorithm)
    raise InvalidInput(detail, {"public_key": [expected]})


def add_member(
    session: Session,
    *,
    actor: Actor,
    name: str,
    kind: str,
    roles: Iterable[str],
    uscc: str | None = None,
    platform_code: str | None = None,
    now: datetime | None = None,
) -> Member:
    """Admit a member organisation.

    :raises InvalidInput: for an unknown kind or role, an empty name, an invalid USCC, or a
        platform code that is malformed or given to a member without the platform role.
    :raises Conflict: if another member already has this USCC or platform code.
    """
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors.setdefault("name", []).append("a name is required")
    if kind not in set(MemberKind):
        errors.setdefault("kind", []).append(
            f"unknown kind, expected one of {', '.join(MemberKind)}"
        )
    role_set = {r.strip() for r in roles if r.strip()}
    unknown = sorted(role_set - set(MemberRole))
    if unknown:
        errors.setdefault("roles", []).append(
            f"unknown roles {', '.join(unknown)}; expected some of {', '.join(MemberRole)}"
        )
    if not role_set:
        errors.setdefault("roles", []).append("at least one role is required")
    if MemberRole.REGULATOR in role_set and kind != MemberKind.REGULATOR:
        errors.setdefault("roles", []).append(
            "only a member of kind regulator may hold the regulator role"
        )
    checked_uscc = None
    if uscc:
        try:
            checked_uscc = validate_uscc(uscc).code
        except IdentifierError as exc:
            errors.setdefault("uscc", []).append(str(exc))
    if platform_code is not None:
        platform_code = platform_code.strip().lower()
        if not PLATFORM_CODE_PATTERN.match(platform_code):
            errors.setdefault("platform_code", []).append(
                "2-32 characters: lower-case letters, digits and '-', starting with a letter"
            )
        if MemberRole.PLATFORM not in role_set:
            errors.setdefault("platform_code", []).append(
                "only a member with the platform role has a platform code"
            )
    if errors:
        raise InvalidInput("the member cannot be admitted", errors)
    if checked_uscc and session.scalar(sa.select(Member.id).where(Member.uscc == checked_uscc)):
        raise Conflict("a member with this USCC already exists")
    if platform_code and session.scalar(
        sa.select(Member.id).where(Member.platform_code == platform_code)
    ):
        raise Conflict("another member already has this platform code")

    at = now or utc_now()
    member = Member(
        name=name,
        kind=kind,
        uscc=checked_uscc,
        platform_code=platform_code,
        status=MemberStatus.ACTIVE,
        created_at=at,
    )
    member.role_rows = [MemberRoleGrant(role=r, granted_at=at) for r in sorted(role_set)]
    session.add(member)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="member.admitted",
        object_type="member",
        object_id=str(member.id),
        after=member.summary(),
        at=at,
    )
    return member


def get_member(session: Session, member_id: uuid.UUID | str) -> Member:
    """:raises NotFound: if there is no such member."""
    try:
        key = member_id if isinstance(member_id, uuid.UUID) else uuid.UUID(str(member_id))
    except ValueError:
        raise NotFound("no member with this id") from None
    member = session.get(Member, key)
    if member is None:
        raise NotFound("no member with this id")
    return member


def add_key(
    session: Session,
    *,
    actor: Actor,
    member: Member,
    public_key_pem: str,
    algorithm: str = KeyAlgorithm.ED25519,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    now: datetime | None = None,
) -> MemberKey:
    """Register a member's public key; its id is the key's JWK thumbprint.

    :raises InvalidInput: for an unknown algorithm, a key that does not parse or fit, or a
        validity period that ends before it starts.
    :raises Conflict: if this public key is already registered (for any member: one key never
        acts for two members).
    """
    if algorithm not in set(KeyAlgorithm):
        expected = Worded("expected one of %(algorithms)s", algorithms=", ".join(KeyAlgorithm))
        raise InvalidInput("unknown algorithm", {"algorithm": [expected]})
    key = load_public_key(public_key_pem, KeyAlgorithm(algorithm))
    at = now or utc_now()
    start = valid_from or at
    if valid_until is not None and valid_until <= start:
        raise InvalidInput(
            "the key would expire before it becomes valid",
            {"valid_until": ["must be after valid_from"]},
        )
    key_id = jwk_thumbprint(public_jwk(key))
    if session.get(MemberKey, key_id) is not None:
        raise Conflict("this public key is already registered", key_id=key_id)
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    row = MemberKey(
        id=key_id,
        member_id=member.id,
        algorithm=algorithm,
        public_key_pem=pem,
        status=KeyStatus.ACTIVE,
        valid_from=start,
        valid_until=valid_until,
        created_at=at,
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="key.registered",
        object_type="member_key",
        object_id=key_id,
        after={k: v for k, v in row.summary().items() if k != "public_key_pem"},
        at=at,
    )
    return row


def revoke_key(
    session: Session, *, actor: Actor, key_id: str, reason: str, now: datetime | None = None
) -> MemberKey:
    """Revoke a key at once; requests signed with it are refused from then on.

    :raises NotFound: if the key does not exist.
    :raises InvalidInput: if no reason is given.
    :raises Conflict: if the key is already revoked.
    """
    if not reason or not reason.strip():
        raise InvalidInput("a reason is required to revoke a key", {"reason": ["required"]})
    row = session.get(MemberKey, key_id)
    if row is None:
        raise NotFound("no key with this id")
    if row.status == KeyStatus.REVOKED:
        raise Conflict(
            "the key is already revoked",
            revoked_at=row.revoked_at.isoformat() if row.revoked_at else None,
        )
    at = now or utc_now()
    before = {"status": row.status}
    row.status = KeyStatus.REVOKED
    row.revoked_at = at
    row.revoked_reason = reason.strip()
    session.flush()
    record_event(
        session,
        actor=actor,
        action="key.revoked",
        object_type="member_key",
        object_id=key_id,
        before=before,
        after={"status": row.status, "revoked_at": at.isoformat()},
        reason=row.revoked_reason,
        at=at,
    )
    return row
