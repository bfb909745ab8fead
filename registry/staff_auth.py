"""Console sign-in for staff accounts: password, optional TOTP, lockout.

The password check is :func:`registry.staff.authenticate` (Argon2id). Around it: an account
is locked for ``lockout`` after ``max_failures`` failed attempts in a row (a failure of the
password or of the second factor alike), a TOTP code is accepted once, and every outcome is
an audit event. The reason a sign-in failed is told to the audit log, never to the person
at the form: they learn only that it failed (or that the account is locked for a while).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry import totp
from registry.audit import Actor, ActorKind, record_event
from registry.errors import Conflict, NotFound, RegistryError
from registry.security import IdentityVault, Passwords
from registry.staff import StaffStatus, StaffUser, authenticate

TOTP_PURPOSE = "staff_totp"


class LoginRefused(RegistryError):
    code = "login-refused"


class AccountLocked(LoginRefused):
    code = "account-locked"


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)


def policy_from_settings(settings: object) -> LoginPolicy:
    return LoginPolicy(
        max_failures=settings.CONSOLE_LOGIN_MAX_FAILURES,  # type: ignore[attr-defined]
        lockout=timedelta(minutes=settings.CONSOLE_LOCKOUT_MINUTES),  # type: ignore[attr-defined]
    )


def _actor(user: StaffUser) -> Actor:
    return Actor(ActorKind.STAFF, str(user.id))


def sign_in(
    session: Session,
    *,
    passwords: Passwords,
    vault: IdentityVault,
    username: str,
    password: str,
    code: str | None,
    policy: LoginPolicy,
    now: datetime,
) -> StaffUser:
    """The account for these credentials; flushes the counters either way.

    :raises AccountLocked: the account is locked (its password is not even checked).
    :raises LoginRefused: unknown user, wrong password, missing or wrong TOTP code.
    """
    name = (username or "").strip().lower()
    user = session.scalar(sa.select(StaffUser).where(StaffUser.username == name))
    if user is not None and user.locked_until is not None and user.locked_until > now:
        raise AccountLocked("the account is locked", until=user.locked_until.isoformat())
    found = authenticate(session, passwords, name, password or "")
    failure = None
    if found is None:
        failure = "password"
    elif found.totp_secret:
        step = totp.matching_step(
            vault.unseal(found.totp_secret, TOTP_PURPOSE), code or "", now.timestamp()
        )
        if step is None or (found.totp_last_step is not None and step <= found.totp_last_step):
            failure = "totp"
        else:
            found.totp_last_step = step
    if failure is not None:
        if user is not None:
            _count_failure(session, user, failure, policy=policy, now=now)
        raise LoginRefused("the sign-in failed")
    assert found is not None
    found.failed_logins = 0
    found.locked_until = None
    found.last_login_at = now
    _record(
        session,
        found,
        "staff_user.signed_in",
        actor=_actor(found),
        after={"second_factor": bool(found.totp_secret)},
        now=now,
    )
    return found


def _count_failure(
    session: Session, user: StaffUser, failure: str, *, policy: LoginPolicy, now: datetime
) -> None:
    user.failed_logins = (user.failed_logins or 0) + 1
    locked = user.failed_logins >= policy.max_failures
    if locked:
        user.locked_until = now + policy.lockout
        user.failed_logins = 0
    _record(
        session,
        user,
        "staff_user.locked" if locked else "staff_user.sign_in_failed",
        actor=Actor.system("console"),
        after={
            "failed": failure,
            "locked_until": user.locked_until.isoformat() if locked and user.locked_until else None,
        },
        now=now,
    )


def _record(
    session: Session,
    user: StaffUser,
    action: str,
    *,
    actor: Actor,
    now: datetime,
    after: dict[str, object] | None = None,
) -> None:
    """Audit what happened to the account, and flush it with the change."""
    record_event(
        session,
        actor=actor,
        action=action,
        object_type="staff_user",
        object_id=str(user.id),
        after=after,
        at=now,
    )
    session.flush()


def get_user(session: Session, username: str) -> StaffUser:
    """:raises NotFound: no account with this username."""
    user = session.scalar(
        sa.select(StaffUser).where(StaffUser.username == (username or "").strip().lower())
    )
    if user is None:
        raise NotFound("no staff user with this username")
    return user


def enroll_totp(
    session: Session, user: StaffUser, *, vault: IdentityVault, actor: Actor, now: datetime
) -> str:
    """Give the account a new TOTP seed (replacing any); returns it, to be shown once."""
    if user.status != StaffStatus.ACTIVE:
        raise Conflict("the account is disabled")
    secret = totp.new_secret()
    user.totp_secret = vault.seal(secret, TOTP_PURPOSE)
    user.totp_last_step = None
    _record(session, user, "staff_user.totp_enrolled", actor=actor, now=now)
    return secret


def unlock(session: Session, user: StaffUser, *, actor: Actor, now: datetime) -> None:
    user.failed_logins = 0
    user.locked_until = None
    _record(session, user, "staff_user.unlocked", actor=actor, now=now)
