import pytest
import sqlalchemy as sa

from registry.errors import Conflict, InvalidInput
from registry.staff import StaffUser, add_staff_user, authenticate
from tests import factories
from tests.factories import TEST_ACTOR

PASSWORD = "correct horse battery staple"


def test_password_is_stored_as_argon2id(session, runtime):
    user = add_staff_user(
        session,
        actor=TEST_ACTOR,
        passwords=runtime.passwords,
        username="Alice",
        password=PASSWORD,
        roles=["reviewer"],
    )
    assert user.username == "alice"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert authenticate(session, runtime.passwords, "ALICE", PASSWORD) == user
    assert authenticate(session, runtime.passwords, "alice", PASSWORD + "x") is None
    assert authenticate(session, runtime.passwords, "bob", PASSWORD) is None


def test_every_problem_is_reported(session, runtime):
    with pytest.raises(InvalidInput) as info:
        add_staff_user(
            session,
            actor=TEST_ACTOR,
            passwords=runtime.passwords,
            username="a b",
            password="short",
            roles=["janitor"],
        )
    assert set(info.value.errors) == {"username", "password", "roles"}


def test_regulator_staff_is_linked_to_a_regulator_member(session, runtime):
    bank = factories.member(session, kind="bank", roles=("submitter",))
    regulator = factories.member(session, kind="regulator", roles=("regulator",))
    with pytest.raises(InvalidInput) as info:
        add_staff_user(
            session,
            actor=TEST_ACTOR,
            passwords=runtime.passwords,
            username="reg1",
            password=PASSWORD,
            roles=["regulator"],
        )
    assert "regulator_member" in info.value.errors
    with pytest.raises(InvalidInput):
        add_staff_user(
            session,
            actor=TEST_ACTOR,
            passwords=runtime.passwords,
            username="reg2",
            password=PASSWORD,
            roles=["regulator"],
            regulator_member=bank,
        )
    with pytest.raises(InvalidInput):
        add_staff_user(
            session,
            actor=TEST_ACTOR,
            passwords=runtime.passwords,
            username="rev",
            password=PASSWORD,
            roles=["reviewer"],
            regulator_member=regulator,
        )
    user = add_staff_user(
        session,
        actor=TEST_ACTOR,
        passwords=runtime.passwords,
        username="reg3",
        password=PASSWORD,
        roles=["regulator"],
        regulator_member=regulator,
    )
    assert user.regulator_member_id == regulator.id


def test_usernames_are_unique(session, runtime):
    add_staff_user(
        session,
        actor=TEST_ACTOR,
        passwords=runtime.passwords,
        username="carol",
        password=PASSWORD,
        roles=["admin"],
    )
    with pytest.raises(Conflict):
        add_staff_user(
            session,
            actor=TEST_ACTOR,
            passwords=runtime.passwords,
            username="Carol",
            password=PASSWORD,
            roles=["admin"],
        )
    assert session.scalar(sa.select(sa.func.count()).select_from(StaffUser)) == 1


def test_disabled_account_cannot_log_in(session, runtime):
    user = add_staff_user(
        session,
        actor=TEST_ACTOR,
        passwords=runtime.passwords,
        username="dave",
        password=PASSWORD,
        roles=["reviewer"],
    )
    user.status = "disabled"
    session.flush()
    assert authenticate(session, runtime.passwords, "dave", PASSWORD) is None


def test_outdated_hash_is_upgraded_on_login(session, runtime):
    from registry.security import Passwords

    weak = Passwords(time_cost=1, memory_kib=512)
    user = add_staff_user(
        session,
        actor=TEST_ACTOR,
        passwords=weak,
        username="erin",
        password=PASSWORD,
        roles=["reviewer"],
    )
    old_hash = user.password_hash
    assert authenticate(session, runtime.passwords, "erin", PASSWORD) == user
    assert user.password_hash != old_hash
    assert not runtime.passwords.needs_rehash(user.password_hash)
