"""Small builders for test data, one per feature; they go through the domain operations."""

from __future__ import annotations

from datetime import datetime
from itertools import count

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlalchemy.orm import Session

from registry.audit import Actor
from registry.demo import make_uscc
from registry.members import Member, add_member
from registry.security import Passwords
from registry.staff import StaffUser, add_staff_user

TEST_ACTOR = Actor.system("test")
_serial = count(1)


def member(
    session: Session,
    *,
    kind: str = "bank",
    roles: tuple[str, ...] = ("submitter",),
    name: str | None = None,
) -> Member:
    return add_member(
        session,
        actor=TEST_ACTOR,
        name=name or f"示范机构{next(_serial)}",
        kind=kind,
        roles=list(roles),
    )


def staff_user(
    session: Session,
    passwords: Passwords,
    now: datetime,
    *,
    username: str = "alice",
    password: str = "correct horse battery staple",
    password_change_required: bool = False,
) -> StaffUser:
    """A reviewer's console account, flushed."""
    made = add_staff_user(
        session,
        actor=TEST_ACTOR,
        passwords=passwords,
        username=username,
        password=password,
        roles=["reviewer"],
        password_change_required=password_change_required,
        now=now,
    )
    session.flush()
    return made


def ed25519_public_pem() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def p256_public_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def uscc(seed: int, region: str = "110105") -> str:
    import random

    return make_uscc(random.Random(seed), region)
