"""Console sign-in for staff accounts: password, optional TOTP, lockout.

The password check is :func:`registry.staff.authenticate` (Argon2id). Around it: an account
is locked for ``lockout`` after ``max_failures`` failed attempts in a row (a failure of the
password or of the second factor alike), a TOTP code is accepted once, and every outcome is
an audit event. The reason a sign-in failed is told to the audit log, never to the person
at the form: they learn only that it failed (or that the account is locked for a while).

Passwords change in two ways. The person changes their own (:func:`change_password`), giving
the current one; or an administrator resets it (:func:`reset_password`) to a random one shown
once, which the person must replace at their next sign-in, as they must the initial password
an administrator made for a new account.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from registry import totp
from registry.audit import Actor, ActorKind, record_event
from registry.db import Base
from registry.errors import Conflict, InvalidInput, NotFound, RegistryError
from registry.security import IdentityVault, PasswordPolicyError, Passwords
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


# --- attempts per client address ----------------------------------------------------------------

SIGN_IN_WINDOW = timedelta(minutes=1)
# Longer strings than any IPv6 address (45 characters) are not addresses a proxy passes on.
ADDRESS_LENGTH = 64


class SignInAttempts(Base):
    """Console sign-in attempts per client address and minute.

    The limit they enforce is checked before any password is hashed, and holds across every
    worker process because the count is kept here. Each attempt is counted in a transaction
    of its own that commits at once (:func:`count_sign_in_attempt`), so the row is locked
    only for that statement and attempts still running are already counted.
    """

    __tablename__ = "staff_sign_in_attempts"

    address: Mapped[str] = mapped_column(
        sa.String(ADDRESS_LENGTH), primary_key=True, comment="client address as the proxy passed it"
    )
    window_start: Mapped[datetime] = mapped_column(primary_key=True, comment="the minute counted")
    attempts: Mapped[int]


SIGN_IN_ATTEMPTS = cast(sa.Table, SignInAttempts.__table__)


def _insert(session: Session, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT in the session's dialect, which takes ON CONFLICT (both of ours do)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def count_sign_in_attempt(session: Session, address: str, now: datetime) -> tuple[int, datetime]:
    """Count one sign-in attempt from ``address``; returns the attempts of the current minute,
    this one included, and the minute's end. One statement, so attempts counted at the same
    time by several processes each get their own number. The caller commits it at once."""
    start = now.replace(second=0, microsecond=0)
    table = SIGN_IN_ATTEMPTS
    statement = (
        _insert(session, table)
        .values(address=address[:ADDRESS_LENGTH], window_start=start, attempts=1)
        .on_conflict_do_update(
            index_elements=[table.c.address, table.c.window_start],
            set_={"attempts": table.c.attempts + 1},
        )
        .returning(table.c.attempts)
    )
    return int(session.execute(statement).scalar_one()), start + SIGN_IN_WINDOW


def purge_sign_in_state(session: Session, now: datetime) -> int:
    """Drop the counts of minutes that have ended."""
    result = session.execute(
        sa.delete(SignInAttempts).where(SignInAttempts.window_start <= now - SIGN_IN_WINDOW)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- sign-in ------------------------------------------------------------------------------------


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


# --- passwords ----------------------------------------------------------------------------------

# Long enough to meet the password policy with room to spare: 120 random bits.
GENERATED_PASSWORD_BYTES = 15

# The field errors of a refused change (the console words them in the page's language).
CURRENT_REQUIRED = "the current password is required"
CURRENT_WRONG = "the current password is not right"
SAME_AS_CURRENT = "the new password must differ from the current one"
REPEAT_DIFFERS = "the two new passwords differ"


def new_password() -> str:
    """A random password for an account, to be shown once and replaced by its holder."""
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def change_password(
    session: Session,
    user: StaffUser,
    *,
    passwords: Passwords,
    current: str,
    new: str,
    repeat: str | None = None,
    policy: LoginPolicy,
    now: datetime,
) -> None:
    """The person replaces their own password, proving they know the current one.

    A wrong current password counts as a failed sign-in (:func:`sign_in`'s counter and
    lockout). Whoever holds a signed-in session could otherwise guess the password behind it
    without limit through this form, and the password is what guards every other session and
    the account itself; a mistyped current password costs the person no more than a mistyped
    sign-in. An empty current password is only "required": nothing was guessed. The new
    password is compared with the current one only once the current one is proven, so the
    comparison cannot be used to test guesses without counting them. ``repeat``, when given,
    is the new password typed again.

    :raises Conflict: the account is disabled.
    :raises AccountLocked: the account is locked (the current password is not even checked),
        or this wrong current password locked it.
    :raises InvalidInput: every problem at once: ``current`` (missing or wrong), ``new``
        (shorter than the policy allows, or the same as the current one), ``repeat``
        (different from ``new``).
    """
    if user.status != StaffStatus.ACTIVE:
        raise Conflict("the account is disabled")
    if user.locked_until is not None and user.locked_until > now:
        raise AccountLocked("the account is locked", until=user.locked_until.isoformat())
    errors: dict[str, list[str]] = {}
    proven = False
    if not current:
        errors["current"] = [CURRENT_REQUIRED]
    elif passwords.verify(user.password_hash, current):
        proven = True
    else:
        errors["current"] = [CURRENT_WRONG]
        _count_failure(session, user, "current_password", policy=policy, now=now)
        if user.locked_until is not None and user.locked_until > now:
            raise AccountLocked("the account is locked", until=user.locked_until.isoformat())
    new_hash = None
    try:
        new_hash = passwords.hash(new)
    except PasswordPolicyError as exc:
        errors["new"] = [str(exc)]
    if proven and new == current:
        errors.setdefault("new", []).append(SAME_AS_CURRENT)
    if repeat is not None and repeat != new:
        errors["repeat"] = [REPEAT_DIFFERS]
    if errors or new_hash is None:
        raise InvalidInput("the password cannot be changed", errors)
    was_required = user.password_change_required
    user.password_hash = new_hash
    user.password_change_required = False
    user.password_changed_at = now
    user.failed_logins = 0
    _record(
        session,
        user,
        "staff_user.password_changed",
        actor=_actor(user),
        after={"was_required": was_required},
        now=now,
    )


def reset_password(
    session: Session, user: StaffUser, *, actor: Actor, passwords: Passwords, now: datetime
) -> str:
    """Give the account a new random password (returned, to be shown once); its holder must
    replace it at the next sign-in. Clears the lockout: the reset is how a locked-out person
    gets back in.

    :raises Conflict: the account is disabled, or the actor is the account itself (a person
        changes their own password, giving the current one).
    """
    if user.status != StaffStatus.ACTIVE:
        raise Conflict("the account is disabled")
    if actor == _actor(user):
        raise Conflict("change your own password instead of resetting it")
    password = new_password()
    was_locked = user.locked_until is not None and user.locked_until > now
    user.password_hash = passwords.hash(password)
    user.password_change_required = True
    user.password_changed_at = now
    user.failed_logins = 0
    user.locked_until = None
    _record(
        session,
        user,
        "staff_user.password_reset",
        actor=actor,
        after={"password_change_required": True, "was_locked": was_locked},
        now=now,
    )
    return password
