"""Console sign-in state kept in the database: attempts per client address and minute."""

from datetime import timedelta

import sqlalchemy as sa

from registry.staff_auth import SignInAttempts, count_sign_in_attempt, purge_sign_in_state

ADDRESS = "203.0.113.7"


def test_attempts_are_counted_per_address_and_minute(session, clock):
    now = clock.now()
    assert count_sign_in_attempt(session, ADDRESS, now) == (1, now + timedelta(minutes=1))
    assert count_sign_in_attempt(session, ADDRESS, now + timedelta(seconds=59))[0] == 2
    assert count_sign_in_attempt(session, "198.51.100.20", now)[0] == 1
    later = now + timedelta(minutes=1, seconds=30)
    assert count_sign_in_attempt(session, ADDRESS, later) == (1, now + timedelta(minutes=2))


def test_the_worker_forgets_the_counts_of_minutes_that_ended(session, clock):
    now = clock.now()
    count_sign_in_attempt(session, ADDRESS, now)
    count_sign_in_attempt(session, ADDRESS, now + timedelta(minutes=1))
    assert purge_sign_in_state(session, now + timedelta(seconds=59)) == 0
    assert purge_sign_in_state(session, now + timedelta(minutes=1)) == 1
    assert session.scalars(sa.select(SignInAttempts.window_start)).all() == [
        now + timedelta(minutes=1)
    ]
