"""Staff accounts of the console: administrators, reviewers and regulator staff."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from registry.audit import Actor, record_event
from registry.db import Base, one_of, timestamp_now, utc_now, uuid_pk
from registry.errors import Conflict, InvalidInput
from registry.members import Member, MemberRole
from registry.security import PasswordPolicyError, Passwords


class StaffRole(StrEnum):
    ADMIN = "admin"  # admits members, manages keys and staff accounts
    REVIEWER = "reviewer"  # works the review queues
    REGULATOR = "regulator"  # acts for one regulator member: proposes listings, decides repairs


class StaffStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


class StaffUser(Base):
    __tablename__ = "staff_users"
    __table_args__ = (one_of("status", StaffStatus),)

    id: Mapped[uuid_pk]
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(255), comment="Argon2id PHC string")
    status: Mapped[str] = mapped_column(sa.String(16), default=StaffStatus.ACTIVE)
    regulator_member_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("members.id"),
        index=True,
        comment="for regulator staff: the regulator member they act for",
    )
    created_at: Mapped[timestamp_now]
    last_login_at: Mapped[datetime | None]
    # Console sign-in (registry.staff_auth): the TOTP seed sealed by the identity vault and
    # the last time step used (a code works once). Failed sign-ins are counted per username
    # and client address, in staff_sign_in_failures.
    totp_secret: Mapped[str | None] = mapped_column(sa.Text, comment="sealed TOTP seed")
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    # A password someone else has seen (made by an administrator, or a reset) must be
    # replaced by the person before the console lets them do anything else.
    password_change_required: Mapped[bool] = mapped_column(
        default=False,
        server_default=sa.false(),
        comment="set while the password is one an administrator made or reset",
    )
    password_changed_at: Mapped[datetime | None] = mapped_column(
        comment="when the password was last changed by the person or reset"
    )
    # Every console session carries the generation it was issued under; raising it ends them
    # all, a copy of a cookie included (the cookie itself cannot be taken back).
    session_generation: Mapped[int] = mapped_column(
        default=0,
        server_default="0",
        comment="raised at sign-out and password change: the sessions issued before end",
    )

    role_rows: Mapped[list[StaffRoleGrant]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    regulator: Mapped[Member | None] = relationship()

    @property
    def roles(self) -> set[str]:
        return {row.role for row in self.role_rows}

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "display_name": self.display_name,
            "roles": sorted(self.roles),
            "status": self.status,
            "password_change_required": self.password_change_required,
            "regulator_member_id": str(self.regulator_member_id)
            if self.regulator_member_id
            else None,
            "created_at": self.created_at.isoformat(),
        }


class StaffRoleGrant(Base):
    __tablename__ = "staff_user_roles"
    __table_args__ = (one_of("role", StaffRole),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    granted_at: Mapped[timestamp_now]

    user: Mapped[StaffUser] = relationship(back_populates="role_rows")


def add_staff_user(
    session: Session,
    *,
    actor: Actor,
    passwords: Passwords,
    username: str,
    password: str,
    roles: Iterable[str],
    display_name: str | None = None,
    regulator_member: Member | None = None,
    password_change_required: bool = False,
    now: datetime | None = None,
) -> StaffUser:
    """Create a console account; all problems are reported together.

    ``password_change_required`` is for a password the person did not choose themselves (one
    made for them and handed over): the console then asks them for their own before anything
    else.

    :raises InvalidInput: bad username, weak password, unknown role, or a regulator account
        without a regulator member (or a regulator member given to another role).
    :raises Conflict: if the username is taken.
    """
    errors: dict[str, list[str]] = {}
    username = (username or "").strip().lower()
    if not USERNAME_PATTERN.match(username):
        errors["username"] = ["3-64 characters: lower-case letters, digits, '.', '_' or '-'"]
    role_set = {r.strip() for r in roles if r.strip()}
    unknown = sorted(role_set - set(StaffRole))
    if unknown:
        errors["roles"] = [
            f"unknown roles {', '.join(unknown)}; expected some of {', '.join(StaffRole)}"
        ]
    elif not role_set:
        errors["roles"] = ["at least one role is required"]
    if StaffRole.REGULATOR in role_set:
        if regulator_member is None:
            errors["regulator_member"] = ["regulator staff must be linked to a regulator member"]
        elif not regulator_member.has_role(MemberRole.REGULATOR):
            errors["regulator_member"] = ["the linked member does not hold the regulator role"]
    elif regulator_member is not None:
        errors["regulator_member"] = [
            "only an account with the regulator role is linked to a regulator member"
        ]
    password_hash = None
    try:
        password_hash = passwords.hash(password)
    except PasswordPolicyError as exc:
        errors["password"] = [str(exc)]
    if errors or password_hash is None:
        raise InvalidInput("the staff account cannot be created", errors)
    if session.scalar(sa.select(StaffUser.id).where(StaffUser.username == username)):
        raise Conflict("this username is taken")

    at = now or utc_now()
    user = StaffUser(
        username=username,
        display_name=(display_name or username).strip(),
        password_hash=password_hash,
        status=StaffStatus.ACTIVE,
        regulator_member_id=regulator_member.id if regulator_member else None,
        password_change_required=password_change_required,
        created_at=at,
    )
    user.role_rows = [StaffRoleGrant(role=r, granted_at=at) for r in sorted(role_set)]
    session.add(user)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="staff_user.created",
        object_type="staff_user",
        object_id=str(user.id),
        after=user.summary(),
        at=at,
    )
    return user


def authenticate(
    session: Session, passwords: Passwords, username: str, password: str
) -> StaffUser | None:
    """The active account for these credentials, or None; upgrades an outdated hash."""
    user = session.scalar(sa.select(StaffUser).where(StaffUser.username == username.lower()))
    if user is None or user.status != StaffStatus.ACTIVE:
        # Spend the same effort as a real check so timing does not reveal which names exist.
        passwords.verify(_DUMMY_HASH.get(passwords), password)
        return None
    if not passwords.verify(user.password_hash, password):
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(password)
    return user


class _DummyHashes:
    """One throwaway hash per parameter set, made lazily."""

    def __init__(self) -> None:
        self._by_hasher: dict[int, str] = {}

    def get(self, passwords: Passwords) -> str:
        key = id(passwords)
        if key not in self._by_hasher:
            self._by_hasher[key] = passwords.hash("not-a-real-password-" + uuid.uuid4().hex)
        return self._by_hasher[key]


_DUMMY_HASH = _DummyHashes()
