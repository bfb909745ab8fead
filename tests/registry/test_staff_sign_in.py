"""Console sign-in state kept in the database: attempts per client address and minute, and
failed sign-ins per username and address, with a wait that doubles."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from registry import staff_auth
from registry.audit import AuditEvent
from registry.staff_auth import (
    LoginPolicy,
    LoginRefused,
    SignInAttempts,
    TooManyFailures,
    count_sign_in_attempt,
    purge_sign_in_state,
)
from tests.console_helpers import Argon2Checks, failures
from tests.factories import TEST_ACTOR, staff_user

ADDRESS, ELSEWHERE = "203.0.113.7", "198.51.100.20"
PASSWORD = "correct horse battery staple"
POLICY = LoginPolicy(max_failures=3, lockout=timedelta(minutes=15), lockout_max=timedelta(hours=1))


@pytest.fixture
def user(session, runtime, clock):
    return staff_user(session, runtime.passwords, clock.now(), password=PASSWORD)


def sign_in(session, runtime, clock, username="alice", password=PASSWORD, address=ADDRESS):
    return staff_auth.sign_in(
        session,
        passwords=runtime.passwords,
        vault=runtime.vault,
        username=username,
        password=password,
        code=None,
        address=address,
        policy=POLICY,
        now=clock.now(),
    )


def test_attempts_are_counted_per_address_and_minute(session, clock):
    now = clock.now()
    assert count_sign_in_attempt(session, ADDRESS, now) == (1, now + timedelta(minutes=1))
    assert count_sign_in_attempt(session, ADDRESS, now + timedelta(seconds=59))[0] == 2
    assert count_sign_in_attempt(session, ELSEWHERE, now)[0] == 1
    later = now + timedelta(minutes=1, seconds=30)
    assert count_sign_in_attempt(session, ADDRESS, later) == (1, now + timedelta(minutes=2))


def test_the_worker_forgets_the_counts_of_minutes_that_ended(session, clock):
    now = clock.now()
    count_sign_in_attempt(session, ADDRESS, now)
    count_sign_in_attempt(session, ADDRESS, now + timedelta(minutes=1))
    assert purge_sign_in_state(session, now + timedelta(seconds=59), POLICY) == 0
    assert purge_sign_in_state(session, now + timedelta(minutes=1), POLICY) == 1
    assert session.scalars(sa.select(SignInAttempts.window_start)).all() == [
        now + timedelta(minutes=1)
    ]


def test_the_wait_starts_after_max_failures_and_doubles_up_to_the_longest():
    waits = [POLICY.wait_after(n) for n in range(1, 8)]
    minutes = [None if w is None else w // timedelta(minutes=1) for w in waits]
    assert minutes == [None, None, 15, 30, 60, 60, 60]
    assert POLICY.wait_after(10**6) == POLICY.lockout_max  # a long run does not overflow


def test_a_name_nobody_has_is_counted_checked_and_held_back_like_an_account(
    session, runtime, clock, user
):
    answers = {}
    for name in ("alice", "nobody"):
        for attempt in range(POLICY.max_failures):
            with Argon2Checks() as checks, pytest.raises(LoginRefused) as refused:
                sign_in(session, runtime, clock, name, f"wrong guess {attempt:04d}")
            assert type(refused.value) is LoginRefused
            assert checks.count == 1  # a throwaway hash for the name nobody has
        with Argon2Checks() as checks, pytest.raises(TooManyFailures) as held:
            sign_in(session, runtime, clock, name)
        assert checks.count == 0  # held back: no password is checked, not even the right one
        answers[name] = (held.value.detail, held.value.extensions)
        assert failures(session, runtime.vault, name, ADDRESS) == POLICY.max_failures
    assert answers["alice"] == answers["nobody"]
    # Only the account's failures are audited; the typed names are kept as keyed hashes only.
    audited = sa.select(AuditEvent.action).where(AuditEvent.object_id == str(user.id))
    assert "staff_user.sign_in_blocked" in session.scalars(audited).all()
    keys = session.scalars(sa.select(staff_auth.SignInFailures.username_key)).all()
    assert len(keys) == 2 and not {"alice", "nobody"} & set(keys)


def test_guesses_from_one_address_do_not_hold_back_another(session, runtime, clock, user):
    for attempt in range(POLICY.max_failures):
        with pytest.raises(LoginRefused):
            sign_in(session, runtime, clock, password=f"wrong guess {attempt:04d}")
    with pytest.raises(TooManyFailures):
        sign_in(session, runtime, clock)
    assert sign_in(session, runtime, clock, address=ELSEWHERE) == user
    with pytest.raises(TooManyFailures):  # and the guessing address still waits
        sign_in(session, runtime, clock)


def test_a_success_forgets_the_failures_of_its_own_address_only(session, runtime, clock, user):
    for address in (ADDRESS, ELSEWHERE):
        with pytest.raises(LoginRefused):
            sign_in(session, runtime, clock, password="a wrong guess", address=address)
    assert sign_in(session, runtime, clock) == user
    assert failures(session, runtime.vault, "alice", ADDRESS) == 0
    assert failures(session, runtime.vault, "alice", ELSEWHERE) == 1


def test_unlock_forgets_the_failures_of_every_address(session, runtime, clock, user):
    for address in (ADDRESS, ELSEWHERE):
        for attempt in range(POLICY.max_failures):
            with pytest.raises(LoginRefused):
                sign_in(session, runtime, clock, password=f"guess {attempt:04d}", address=address)
    held = staff_auth.held_back(session, runtime.vault, ["alice", "bob"], clock.now())
    assert held == {"alice": True}
    staff_auth.unlock(session, user, vault=runtime.vault, actor=TEST_ACTOR, now=clock.now())
    assert staff_auth.held_back(session, runtime.vault, ["alice"], clock.now()) == {}
    assert sign_in(session, runtime, clock) == user


def test_the_worker_forgets_failures_after_the_longest_wait_without_one(
    session, runtime, clock, user
):
    with pytest.raises(LoginRefused):
        sign_in(session, runtime, clock, password="a wrong guess")
    clock.advance(POLICY.lockout_max - timedelta(seconds=1))
    assert purge_sign_in_state(session, clock.now(), POLICY) == 0
    clock.advance(timedelta(seconds=1))
    assert purge_sign_in_state(session, clock.now(), POLICY) == 1
    assert failures(session, runtime.vault, "alice", ADDRESS) == 0
