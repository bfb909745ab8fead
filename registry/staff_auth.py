"""Console sign-in for staff accounts: password, optional TOTP, and what holds guessing back.

The password check is :func:`registry.staff.authenticate` (Argon2id). Before it, two limits,
neither of which tells whether an account exists:

- each client address has so many attempts a minute (:func:`count_sign_in_attempt`), counted
  before any password is hashed;
- a username that failed ``max_failures`` times in a row from one address waits before that
  address may try it again: ``lockout`` at first, doubled with each further failure, at most
  ``lockout_max`` (:class:`SignInFailures`). Names that belong to no account are counted and
  held back alike, so being held back says nothing about the name. Another address (the
  account's holder, with the password and their second factor) is not held back by guesses
  made elsewhere: nobody can lock a person out by guessing at their name.

A failure of the password or of the second factor counts alike, a TOTP code is accepted once,
and every outcome for an existing account is an audit event. The reason a sign-in failed is
told to the audit log, never to the person at the form: they learn only that it failed (or
that they must wait).

Passwords change in two ways. The person changes their own (:func:`change_password`), giving
the current one; or an administrator resets it (:func:`reset_password`) to a random one shown
once, which the person must replace at their next sign-in, as they must the initial password
an administrator made for a new account.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

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


class TooManyFailures(LoginRefused):
    """This username failed too often from this address; ``until`` says how long to wait."""

    code = "too-many-failures"


@dataclass(frozen=True)
class LoginPolicy:
    """Failures in a row of one username from one address before it must wait, the first
    wait, and the longest (each failure past ``max_failures`` doubles the wait)."""

    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    lockout_max: timedelta = timedelta(hours=24)

    def wait_after(self, failures: int) -> timedelta | None:
        """How long a username waits after its ``failures``-th failure in a row, if at all."""
        if failures < self.max_failures:
            return None
        wait = self.lockout
        # Doubled only up to the longest: a long guessing run must not overflow a timedelta.
        for _doubling in range(failures - self.max_failures):
            if wait >= self.lockout_max:
                break
            wait *= 2
        return min(wait, self.lockout_max)


def policy_from_settings(settings: Any) -> LoginPolicy:
    return LoginPolicy(
        max_failures=settings.CONSOLE_LOGIN_MAX_FAILURES,
        lockout=timedelta(minutes=settings.CONSOLE_LOCKOUT_MINUTES),
        lockout_max=timedelta(minutes=settings.CONSOLE_LOCKOUT_MAX_MINUTES),
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


# --- failures per username and address ----------------------------------------------------------

USERNAME_PURPOSE = "staff_sign_in_username"


class SignInFailures(Base):
    """Failed sign-ins in a row of one username from one client address, and until when that
    address must wait before trying the name again. Kept for names that belong to no account
    too, so that waiting says nothing about whether the name exists."""

    __tablename__ = "staff_sign_in_failures"

    username_key: Mapped[str] = mapped_column(
        sa.String(64),
        primary_key=True,
        comment="keyed hash of the username as typed: it may be a password in the wrong field",
    )
    address: Mapped[str] = mapped_column(
        sa.String(ADDRESS_LENGTH), primary_key=True, comment="client address as the proxy passed it"
    )
    failures: Mapped[int] = mapped_column(comment="failed sign-ins in a row")
    last_failed_at: Mapped[datetime] = mapped_column(index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(
        comment="the address may not try this username again before then"
    )


SIGN_IN_FAILURES = cast(sa.Table, SignInFailures.__table__)


def username_key(vault: IdentityVault, username: str) -> str:
    return vault.keyed_tag((username or "").strip().lower(), USERNAME_PURPOSE)


def _failures_of(key: str, address: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        SignInFailures.username_key == key, SignInFailures.address == address[:ADDRESS_LENGTH]
    )


def _too_many(until: datetime) -> TooManyFailures:
    return TooManyFailures("too many failed sign-ins; try again later", until=until.isoformat())


def _refuse_if_blocked(session: Session, key: str, address: str, now: datetime) -> None:
    """:raises TooManyFailures: the address must wait before trying this username again."""
    until = session.scalar(
        sa.select(SignInFailures.blocked_until).where(_failures_of(key, address))
    )
    if until is not None and until > now:
        raise _too_many(until)


def _count_failure(
    session: Session, key: str, address: str, *, policy: LoginPolicy, now: datetime
) -> tuple[int, datetime | None]:
    """One more failure of the username from the address: the failures in a row, and until
    when the address must now wait, if it must. Counted in one statement, so failures of
    several processes at once each count."""
    table = SIGN_IN_FAILURES
    counted = (
        _insert(session, table)
        .values(
            username_key=key,
            address=address[:ADDRESS_LENGTH],
            failures=1,
            last_failed_at=now,
            blocked_until=None,
        )
        .on_conflict_do_update(
            index_elements=[table.c.username_key, table.c.address],
            set_={"failures": table.c.failures + 1, "last_failed_at": now},
        )
        .returning(table.c.failures)
    )
    failures = int(session.execute(counted).scalar_one())
    wait = policy.wait_after(failures)
    if wait is None:
        return failures, None
    session.execute(
        sa.update(SignInFailures).where(_failures_of(key, address)).values(blocked_until=now + wait)
    )
    return failures, now + wait


def _forget_failures(session: Session, key: str, address: str) -> None:
    session.execute(sa.delete(SignInFailures).where(_failures_of(key, address)))


def _forget_all_failures(session: Session, key: str, now: datetime) -> bool:
    """Forget the username's failures from every address; whether an address was waiting."""
    waiting = session.scalar(
        sa.select(sa.func.count()).where(
            SignInFailures.username_key == key, SignInFailures.blocked_until > now
        )
    )
    session.execute(sa.delete(SignInFailures).where(SignInFailures.username_key == key))
    return bool(waiting)


def held_back(
    session: Session, vault: IdentityVault, usernames: list[str], now: datetime
) -> dict[str, bool]:
    """For each of the usernames with failures counted: whether an address must wait now."""
    keys = {username_key(vault, name): name for name in usernames}
    rows = session.execute(
        sa.select(SignInFailures.username_key, sa.func.max(SignInFailures.blocked_until))
        .where(SignInFailures.username_key.in_(keys))
        .group_by(SignInFailures.username_key)
    ).tuples()
    return {keys[key]: until is not None and until > now for key, until in rows}


def purge_sign_in_state(session: Session, now: datetime, policy: LoginPolicy) -> int:
    """Drop the attempt counts of minutes that have ended, and the failures of a username
    and address that has not failed for as long as the longest wait."""
    ended = session.execute(
        sa.delete(SignInAttempts).where(SignInAttempts.window_start <= now - SIGN_IN_WINDOW)
    )
    forgotten = session.execute(
        sa.delete(SignInFailures).where(SignInFailures.last_failed_at <= now - policy.lockout_max)
    )
    return sum(int(getattr(result, "rowcount", 0) or 0) for result in (ended, forgotten))


def purge_job(settings: Any) -> Callable[[Session, datetime], int]:
    policy = policy_from_settings(settings) if settings is not None else LoginPolicy()
    return lambda session, now: purge_sign_in_state(session, now, policy)


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
    address: str,
    policy: LoginPolicy,
    now: datetime,
) -> StaffUser:
    """The account for these credentials, signed in from ``address``; flushes the failures
    counted either way.

    An unknown name takes the same path as an account: it is held back by the same count,
    and its password is checked against a throwaway hash, at the same cost.

    :raises TooManyFailures: this username failed too often from this address (no password
        is checked), whether or not an account has it.
    :raises LoginRefused: unknown user, wrong password, missing or wrong TOTP code.
    :raises HashingBusy: no password-hashing slot came free in time (nothing is counted).
    """
    name = (username or "").strip().lower()
    key = username_key(vault, name)
    _refuse_if_blocked(session, key, address, now)
    user = session.scalar(sa.select(StaffUser).where(StaffUser.username == name))
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
        _failed(session, key, user, failure, address=address, policy=policy, now=now)
        raise LoginRefused("the sign-in failed")
    assert found is not None
    _forget_failures(session, key, address)
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


def sign_out(session: Session, user: StaffUser, *, now: datetime) -> None:
    """End every console session of the account: a copy of a session's cookie must not
    outlive the sign-out, and the cookie cannot be taken back from wherever it was copied."""
    _end_sessions(user)
    _record(session, user, "staff_user.signed_out", actor=_actor(user), now=now)


def _end_sessions(user: StaffUser) -> None:
    user.session_generation = (user.session_generation or 0) + 1


def _failed(
    session: Session,
    key: str,
    user: StaffUser | None,
    failure: str,
    *,
    address: str,
    policy: LoginPolicy,
    now: datetime,
) -> datetime | None:
    """Count a failure of the username from the address, and audit it if an account has the
    name; until when the address must now wait, if it must."""
    failures, until = _count_failure(session, key, address, policy=policy, now=now)
    if user is not None:
        _record(
            session,
            user,
            "staff_user.sign_in_blocked" if until else "staff_user.sign_in_failed",
            actor=Actor.system("console"),
            after={
                "failed": failure,
                "address": address[:ADDRESS_LENGTH],
                "failures": failures,
                "blocked_until": until.isoformat() if until else None,
            },
            now=now,
        )
    return until


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


def unlock(
    session: Session, user: StaffUser, *, vault: IdentityVault, actor: Actor, now: datetime
) -> None:
    """Forget the account's failed sign-ins from every address: none has to wait."""
    _forget_all_failures(session, username_key(vault, user.username), now)
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
    vault: IdentityVault,
    current: str,
    new: str,
    repeat: str | None = None,
    address: str,
    policy: LoginPolicy,
    now: datetime,
) -> None:
    """The person replaces their own password, proving they know the current one.

    A wrong current password counts as a failed sign-in of the account from ``address``
    (:func:`sign_in`'s count and wait). Whoever holds a signed-in session could otherwise
    guess the password behind it without limit through this form, and the password is what
    guards every other session and the account itself; a mistyped current password costs the
    person no more than a mistyped sign-in. An empty current password is only "required":
    nothing was guessed. The new password is compared with the current one only once the
    current one is proven, so the comparison cannot be used to test guesses without counting
    them. ``repeat``, when given, is the new password typed again. Every session of the
    account ends with the change.

    :raises Conflict: the account is disabled.
    :raises TooManyFailures: the account must wait at this address (the current password is
        not even checked), or this wrong current password made it wait.
    :raises InvalidInput: every problem at once: ``current`` (missing or wrong), ``new``
        (shorter than the policy allows, or the same as the current one), ``repeat``
        (different from ``new``).
    :raises HashingBusy: no password-hashing slot came free in time.
    """
    if user.status != StaffStatus.ACTIVE:
        raise Conflict("the account is disabled")
    key = username_key(vault, user.username)
    _refuse_if_blocked(session, key, address, now)
    errors: dict[str, list[str]] = {}
    proven = False
    if not current:
        errors["current"] = [CURRENT_REQUIRED]
    elif passwords.verify(user.password_hash, current):
        proven = True
    else:
        errors["current"] = [CURRENT_WRONG]
        until = _failed(
            session, key, user, "current_password", address=address, policy=policy, now=now
        )
        if until is not None:
            raise _too_many(until)
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
    _end_sessions(user)
    _forget_failures(session, key, address)
    _record(
        session,
        user,
        "staff_user.password_changed",
        actor=_actor(user),
        after={"was_required": was_required},
        now=now,
    )


def reset_password(
    session: Session,
    user: StaffUser,
    *,
    actor: Actor,
    passwords: Passwords,
    vault: IdentityVault,
    now: datetime,
) -> str:
    """Give the account a new random password (returned, to be shown once); its holder must
    replace it at the next sign-in. Every session of the account ends. Forgets the account's
    failed sign-ins from every address: the reset is how a person held back gets back in.

    :raises Conflict: the account is disabled, or the actor is the account itself (a person
        changes their own password, giving the current one).
    :raises HashingBusy: no password-hashing slot came free in time.
    """
    if user.status != StaffStatus.ACTIVE:
        raise Conflict("the account is disabled")
    if actor == _actor(user):
        raise Conflict("change your own password instead of resetting it")
    password = new_password()
    user.password_hash = passwords.hash(password)
    user.password_change_required = True
    user.password_changed_at = now
    _end_sessions(user)
    was_locked = _forget_all_failures(session, username_key(vault, user.username), now)
    _record(
        session,
        user,
        "staff_user.password_reset",
        actor=actor,
        after={"password_change_required": True, "was_locked": was_locked},
        now=now,
    )
    return password
