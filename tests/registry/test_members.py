import base64
import hashlib
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from registry.audit import AuditEvent
from registry.errors import Conflict, InvalidInput, NotFound
from registry.members import (
    KeyStatus,
    MemberKey,
    add_key,
    add_member,
    get_member,
    load_public_key,
    revoke_key,
)
from tests import factories
from tests.factories import TEST_ACTOR


def test_add_member_with_roles_and_audit(session, clock):
    member = add_member(
        session,
        actor=TEST_ACTOR,
        name="  华夏示范银行  ",
        kind="bank",
        roles=["querier", "submitter"],
        uscc=" 91110000600037341l",
        now=clock.now(),
    )
    assert member.name == "华夏示范银行"
    assert member.roles == {"querier", "submitter"}
    assert member.uscc == "91110000600037341L"
    assert member.is_active
    event = session.scalar(sa.select(AuditEvent).where(AuditEvent.object_id == str(member.id)))
    assert event.action == "member.admitted"
    assert event.after["roles"] == ["querier", "submitter"]
    assert event.occurred_at == clock.now()


def test_add_member_reports_every_problem_at_once(session):
    with pytest.raises(InvalidInput) as info:
        add_member(
            session,
            actor=TEST_ACTOR,
            name=" ",
            kind="casino",
            roles=["submitter", "overlord"],
            uscc="91110000600037341A",
        )
    assert set(info.value.errors) == {"name", "kind", "roles", "uscc"}


def test_regulator_role_needs_a_regulator_member(session):
    with pytest.raises(InvalidInput) as info:
        add_member(session, actor=TEST_ACTOR, name="某银行", kind="bank", roles=["regulator"])
    assert "roles" in info.value.errors
    regulator = add_member(
        session,
        actor=TEST_ACTOR,
        name="某市场监管局",
        kind="regulator",
        roles=["regulator", "submitter"],
    )
    assert regulator.roles == {"regulator", "submitter"}


def test_uscc_of_a_member_is_unique(session):
    add_member(
        session,
        actor=TEST_ACTOR,
        name="甲",
        kind="bank",
        roles=["querier"],
        uscc="91310115MA1K3BTP2B",
    )
    with pytest.raises(Conflict):
        add_member(
            session,
            actor=TEST_ACTOR,
            name="乙",
            kind="bank",
            roles=["querier"],
            uscc="91310115MA1K3BTP2B",
        )


def test_get_member_not_found_for_garbage_and_unknown(session):
    with pytest.raises(NotFound):
        get_member(session, "not-a-uuid")
    with pytest.raises(NotFound):
        get_member(session, "00000000-0000-4000-8000-000000000000")


def test_key_id_is_the_rfc7638_thumbprint(session, clock):
    member = factories.member(session)
    pem = factories.ed25519_public_pem()
    key = add_key(session, actor=TEST_ACTOR, member=member, public_key_pem=pem, now=clock.now())
    raw = load_public_key(pem, "ed25519").public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    expected = (
        base64.urlsafe_b64encode(
            hashlib.sha256(
                json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":")).encode()
            ).digest()
        )
        .rstrip(b"=")
        .decode()
    )
    assert key.id == expected
    assert key.status == KeyStatus.ACTIVE
    assert key.is_usable_at(clock.now())


def test_p256_keys_are_accepted_and_algorithm_must_fit(session, clock):
    member = factories.member(session)
    key = add_key(
        session,
        actor=TEST_ACTOR,
        member=member,
        public_key_pem=factories.p256_public_pem(),
        algorithm="ecdsa-p256-sha256",
    )
    assert key.algorithm == "ecdsa-p256-sha256"
    with pytest.raises(InvalidInput, match="does not fit") as refused:
        add_key(
            session,
            actor=TEST_ACTOR,
            member=member,
            public_key_pem=factories.p256_public_pem(),
            algorithm="ed25519",
        )
    # The English text the API answers, whatever template the console translates.
    assert refused.value.detail == "the public key does not fit algorithm ed25519"
    assert refused.value.errors == {"public_key": ["expected a key for ed25519"]}
    with pytest.raises(InvalidInput, match="not a PEM"):
        add_key(session, actor=TEST_ACTOR, member=member, public_key_pem="hello")


def test_one_public_key_never_serves_two_members(session):
    pem = factories.ed25519_public_pem()
    add_key(session, actor=TEST_ACTOR, member=factories.member(session), public_key_pem=pem)
    with pytest.raises(Conflict):
        add_key(session, actor=TEST_ACTOR, member=factories.member(session), public_key_pem=pem)


def test_validity_window(session, clock):
    member = factories.member(session)
    start = clock.now() + timedelta(days=1)
    key = add_key(
        session,
        actor=TEST_ACTOR,
        member=member,
        public_key_pem=factories.ed25519_public_pem(),
        valid_from=start,
        valid_until=start + timedelta(days=30),
        now=clock.now(),
    )
    assert not key.is_usable_at(clock.now())
    assert key.is_usable_at(start + timedelta(days=1))
    assert not key.is_usable_at(start + timedelta(days=30))
    with pytest.raises(InvalidInput):
        add_key(
            session,
            actor=TEST_ACTOR,
            member=member,
            public_key_pem=factories.ed25519_public_pem(),
            valid_from=start,
            valid_until=start - timedelta(seconds=1),
        )


def test_revoke_key_records_when_and_why(session, clock):
    member = factories.member(session)
    key = add_key(
        session,
        actor=TEST_ACTOR,
        member=member,
        public_key_pem=factories.ed25519_public_pem(),
        now=clock.now(),
    )
    with pytest.raises(InvalidInput):
        revoke_key(session, actor=TEST_ACTOR, key_id=key.id, reason="  ")
    clock.advance(timedelta(hours=1))
    revoke_key(session, actor=TEST_ACTOR, key_id=key.id, reason="laptop stolen", now=clock.now())
    stored = session.get(MemberKey, key.id)
    assert stored.status == KeyStatus.REVOKED
    assert stored.revoked_at == clock.now()
    assert stored.revoked_reason == "laptop stolen"
    assert not stored.is_usable_at(clock.now())
    with pytest.raises(Conflict):
        revoke_key(session, actor=TEST_ACTOR, key_id=key.id, reason="again")
    with pytest.raises(NotFound):
        revoke_key(session, actor=TEST_ACTOR, key_id="nope", reason="x")


def test_database_refuses_a_revoked_key_without_a_time(session):
    member = factories.member(session)
    key = add_key(
        session, actor=TEST_ACTOR, member=member, public_key_pem=factories.ed25519_public_pem()
    )
    with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
        session.execute(
            sa.update(MemberKey)
            .where(MemberKey.id == key.id)
            .values(status="revoked")
            .execution_options(synchronize_session=False)
        )
