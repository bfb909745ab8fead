"""Staff passwords after the account exists: the person changes their own (proving the current
one, counted like a sign-in), an administrator resets it (a random one, to be changed)."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from registry import staff_auth
from registry.audit import Actor, ActorKind, AuditEvent
from registry.errors import Conflict, InvalidInput
from registry.security import TOO_SHORT
from registry.staff import StaffUser
from registry.staff_auth import LoginPolicy, LoginRefused, TooManyFailures
from tests.console_helpers import failures
from tests.factories import TEST_ACTOR, staff_user

PASSWORD = "correct horse battery staple"
NEW = "a different long passphrase"
POLICY = LoginPolicy(max_failures=3, lockout=timedelta(minutes=15))
ADDRESS = "203.0.113.7"


@pytest.fixture
def user(session, runtime, clock) -> StaffUser:
    return staff_user(
        session, runtime.passwords, clock.now(), password=PASSWORD, password_change_required=True
    )


def change(session, runtime, clock, user, current=PASSWORD, new=NEW, repeat=None):
    staff_auth.change_password(
        session,
        user,
        passwords=runtime.passwords,
        vault=runtime.vault,
        current=current,
        new=new,
        repeat=new if repeat is None else repeat,
        address=ADDRESS,
        policy=POLICY,
        now=clock.now(),
    )


def sign_in(session, runtime, clock, password):
    return staff_auth.sign_in(
        session,
        passwords=runtime.passwords,
        vault=runtime.vault,
        username="alice",
        password=password,
        code=None,
        address=ADDRESS,
        policy=POLICY,
        now=clock.now(),
    )


def reset(session, runtime, clock, user, actor):
    return staff_auth.reset_password(
        session,
        user,
        actor=actor,
        passwords=runtime.passwords,
        vault=runtime.vault,
        now=clock.now(),
    )


def events(session, user, action):
    return session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.object_id == str(user.id), AuditEvent.action == action
        )
    ).all()


def assert_no_secret(event, *secrets):
    for field in ("actor_id", "object_id", "before", "after", "reason"):
        for secret in secrets:
            assert secret not in str(getattr(event, field)), field


def test_a_person_changes_their_password_with_the_current_one(session, runtime, clock, user):
    old_hash = user.password_hash
    clock.advance(timedelta(hours=1))
    change(session, runtime, clock, user)
    assert user.password_change_required is False
    assert user.password_changed_at == clock.now()
    assert runtime.passwords.verify(user.password_hash, NEW)
    assert not runtime.passwords.verify(user.password_hash, PASSWORD)
    with pytest.raises(LoginRefused):
        sign_in(session, runtime, clock, PASSWORD)
    assert sign_in(session, runtime, clock, NEW) == user

    [event] = events(session, user, "staff_user.password_changed")
    assert (event.actor_kind, event.actor_id) == ("staff", str(user.id))
    assert event.after == {"was_required": True}
    assert_no_secret(event, PASSWORD, NEW, old_hash, user.password_hash)


def test_every_problem_with_a_change_is_reported_at_once(session, runtime, clock, user):
    old_hash = user.password_hash
    with pytest.raises(InvalidInput) as info:
        change(session, runtime, clock, user, current="not it at all", new="short", repeat="shirt")
    assert info.value.errors == {
        "current": [staff_auth.CURRENT_WRONG],
        "new": [TOO_SHORT],
        "repeat": [staff_auth.REPEAT_DIFFERS],
    }
    assert user.password_hash == old_hash and user.password_change_required is True
    assert events(session, user, "staff_user.password_changed") == []


def test_the_policy_and_the_repeat_hold_with_the_right_current_password(
    session, runtime, clock, user
):
    old_hash = user.password_hash
    with pytest.raises(InvalidInput) as info:
        change(session, runtime, clock, user, new="too short")
    assert info.value.errors == {"new": [TOO_SHORT]}
    with pytest.raises(InvalidInput) as info:
        change(session, runtime, clock, user, repeat=NEW + "!")
    assert info.value.errors == {"repeat": [staff_auth.REPEAT_DIFFERS]}
    assert user.password_hash == old_hash and counted(session, runtime) == 0


def test_the_new_password_must_differ_from_the_current_one(session, runtime, clock, user):
    old_hash = user.password_hash
    with pytest.raises(InvalidInput) as info:
        change(session, runtime, clock, user, new=PASSWORD)
    assert info.value.errors == {"new": [staff_auth.SAME_AS_CURRENT]}
    assert user.password_hash == old_hash and user.password_change_required is True


def test_the_same_password_check_tells_nothing_without_the_current_one(
    session, runtime, clock, user
):
    # Otherwise the "new" field would test guesses of the password, uncounted.
    with pytest.raises(InvalidInput) as info:
        change(session, runtime, clock, user, current="a wrong guess here", new=PASSWORD)
    assert info.value.errors == {"current": [staff_auth.CURRENT_WRONG]}
    with pytest.raises(InvalidInput) as info:
        change(session, runtime, clock, user, current="", new=PASSWORD)
    assert info.value.errors == {"current": [staff_auth.CURRENT_REQUIRED]}


def counted(session, runtime) -> int:
    return failures(session, runtime.vault, "alice", ADDRESS)


def test_a_wrong_current_password_counts_as_a_failed_sign_in(session, runtime, clock, user):
    with pytest.raises(InvalidInput):
        change(session, runtime, clock, user, current="")  # nothing guessed: not counted
    assert counted(session, runtime) == 0
    for expected in (1, 2):
        with pytest.raises(InvalidInput):
            change(session, runtime, clock, user, current=f"wrong guess number {expected}")
        assert counted(session, runtime) == expected
    [*_, failed] = events(session, user, "staff_user.sign_in_failed")
    assert failed.after["failed"] == "current_password"
    assert failed.after["address"] == ADDRESS
    with pytest.raises(TooManyFailures) as held:
        change(session, runtime, clock, user, current="wrong guess number 3")
    assert held.value.extensions["until"] == (clock.now() + POLICY.lockout).isoformat()
    assert events(session, user, "staff_user.sign_in_blocked")
    # Held back at this address: neither this form nor the sign-in checks the password, even
    # the right one.
    old_hash = user.password_hash
    with pytest.raises(TooManyFailures):
        change(session, runtime, clock, user)
    with pytest.raises(TooManyFailures):
        sign_in(session, runtime, clock, PASSWORD)
    assert user.password_hash == old_hash and counted(session, runtime) == 3

    # The next failure in a row doubles the wait.
    clock.advance(POLICY.lockout)
    with pytest.raises(TooManyFailures) as held:
        change(session, runtime, clock, user, current="one more wrong guess")
    assert held.value.extensions["until"] == (clock.now() + 2 * POLICY.lockout).isoformat()
    clock.advance(2 * POLICY.lockout)
    change(session, runtime, clock, user)
    assert counted(session, runtime) == 0 and runtime.passwords.verify(user.password_hash, NEW)


def test_a_disabled_account_cannot_change_its_password(session, runtime, clock, user):
    user.status = "disabled"
    with pytest.raises(Conflict):
        change(session, runtime, clock, user)


def test_an_administrator_resets_a_password_to_one_shown_once(session, runtime, clock, user):
    admin = Actor(ActorKind.STAFF, "an-administrator")
    change(session, runtime, clock, user)  # the person's own password, no change required
    for attempt in range(3):
        with pytest.raises(LoginRefused):
            sign_in(session, runtime, clock, f"wrong password {attempt:04d}")
    assert staff_auth.held_back(session, runtime.vault, ["alice"], clock.now()) == {"alice": True}
    old_hash = user.password_hash
    clock.advance(timedelta(minutes=1))

    password = reset(session, runtime, clock, user, admin)
    assert len(password) >= 20 and password != NEW
    assert runtime.passwords.verify(user.password_hash, password)
    assert not runtime.passwords.verify(user.password_hash, NEW)
    assert user.password_change_required is True
    assert user.password_changed_at == clock.now()
    assert counted(session, runtime) == 0
    assert sign_in(session, runtime, clock, password) == user

    [event] = events(session, user, "staff_user.password_reset")
    assert (event.actor_kind, event.actor_id) == ("staff", "an-administrator")
    assert event.after == {"password_change_required": True, "was_locked": True}
    assert_no_secret(event, password, NEW, old_hash, user.password_hash)

    assert reset(session, runtime, clock, user, admin) != password


def test_a_reset_is_refused_for_oneself_and_for_a_disabled_account(session, runtime, clock, user):
    old_hash = user.password_hash
    with pytest.raises(Conflict):
        reset(session, runtime, clock, user, Actor(ActorKind.STAFF, str(user.id)))
    user.status = "disabled"
    with pytest.raises(Conflict):
        reset(session, runtime, clock, user, TEST_ACTOR)
    assert user.password_hash == old_hash
    assert events(session, user, "staff_user.password_reset") == []
