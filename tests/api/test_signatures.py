"""Every refusal of a member signature, through real signed HTTP requests into the app."""

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.client import RequestSigner
from registry.access import NonceUse, claim_nonce, spend_nonce, spent_at_commit
from registry.members import MemberRoleGrant, revoke_key
from tests.factories import TEST_ACTOR
from tests.signing import AUTHORITY, signed_member

RECEIPT_PATH = "/api/v1/submissions/does-not-exist"


@pytest.fixture
def alice(session, client, clock):
    return signed_member(session, client, clock)


def problem_type(response):
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)
    return response.get_json()["type"]


def test_a_valid_signature_is_accepted(alice):
    response = alice.get(RECEIPT_PATH)
    # Authenticated: the answer is about the resource, not the signature.
    assert response.status_code == 404
    assert problem_type(response) == "/problems/not-found"


def test_missing_signature(alice):
    response = alice.get(RECEIPT_PATH, sign=False)
    assert response.status_code == 401
    assert problem_type(response) == "/problems/signature-missing"
    assert "content-digest" in response.headers["Accept-Signature"]


def test_malformed_signature_headers(alice):
    response = alice.get(
        RECEIPT_PATH,
        sign=False,
        extra_headers={"Signature-Input": "sig1=(", "Signature": "sig1=:AAAA:"},
    )
    assert response.status_code == 401
    assert problem_type(response) == "/problems/signature-malformed"


def test_unknown_key(alice, clock):
    stranger = RequestSigner(
        "no-such-key", ed25519.Ed25519PrivateKey.generate(), clock=lambda: clock.now().timestamp()
    )
    response = alice.get(RECEIPT_PATH, signer=stranger)
    assert response.status_code == 401
    assert problem_type(response) == "/problems/key-unknown"


def test_revoked_key(alice, session):
    revoke_key(session, actor=TEST_ACTOR, key_id=alice.key.id, reason="leaked")
    session.commit()
    assert problem_type(alice.get(RECEIPT_PATH)) == "/problems/key-revoked"


def test_expired_and_not_yet_valid_keys(session, client, clock):
    expired = signed_member(
        session,
        client,
        clock,
        valid_from=clock.now() - timedelta(days=30),
        valid_until=clock.now() - timedelta(days=1),
    )
    assert problem_type(expired.get(RECEIPT_PATH)) == "/problems/key-expired"
    future = signed_member(session, client, clock, valid_from=clock.now() + timedelta(days=1))
    assert problem_type(future.get(RECEIPT_PATH)) == "/problems/key-expired"


def test_a_key_met_before_signs_with_one_statement_and_its_grant_as_it_stands(
    alice, session, query_counter
):
    assert alice.get(RECEIPT_PATH).status_code == 404  # the key is met: read on its own
    query_counter.clear()
    assert alice.get(RECEIPT_PATH).status_code == 404
    grant_reads = [s for s in query_counter if "JOIN members" in s]
    # Once met, the key's grant is read with the nonce's claim and nowhere else.
    assert len(grant_reads) == 1 and "request_nonces" in grant_reads[0]
    # What may change about a key counts at once, though the key is remembered.
    alice.member.status = "suspended"
    session.commit()
    assert problem_type(alice.get(RECEIPT_PATH)) == "/problems/member-suspended"
    alice.member.status = "active"
    session.commit()
    assert alice.get(RECEIPT_PATH).status_code == 404
    revoke_key(session, actor=TEST_ACTOR, key_id=alice.key.id, reason="leaked")
    session.commit()
    assert problem_type(alice.get(RECEIPT_PATH)) == "/problems/key-revoked"


def test_a_role_taken_away_counts_at_the_next_request(session, client, clock):
    submitter = signed_member(session, client, clock, roles=("submitter", "querier"))
    assert submitter.get(RECEIPT_PATH).status_code == 404  # signed in, the key met
    session.execute(
        sa.delete(MemberRoleGrant).where(
            MemberRoleGrant.member_id == submitter.member.id, MemberRoleGrant.role == "submitter"
        )
    )
    session.commit()
    refused = submitter.post("/api/v1/submissions", {"submission_id": "t", "records": []})
    assert problem_type(refused) == "/problems/role-missing"


def test_a_key_met_before_expires_on_time(session, client, clock):
    member = signed_member(session, client, clock, valid_until=clock.now() + timedelta(hours=1))
    assert member.get(RECEIPT_PATH).status_code == 404
    clock.advance(timedelta(hours=1))
    assert problem_type(member.get(RECEIPT_PATH)) == "/problems/key-expired"


def test_a_request_refused_for_its_key_cannot_be_replayed_once_the_key_may_sign(alice, session):
    alice.member.status = "suspended"
    session.commit()
    assert problem_type(alice.get(RECEIPT_PATH, nonce="refused-once")) == (
        "/problems/member-suspended"
    )
    alice.member.status = "active"
    session.commit()
    replayed = alice.get(RECEIPT_PATH, nonce="refused-once")
    assert problem_type(replayed) == "/problems/nonce-reused"


def test_key_of_a_suspended_member(alice, session):
    alice.member.status = "suspended"
    session.commit()
    assert problem_type(alice.get(RECEIPT_PATH)) == "/problems/member-suspended"


def test_signature_by_another_private_key(alice, clock):
    impostor = RequestSigner(
        alice.key.id, ed25519.Ed25519PrivateKey.generate(), clock=lambda: clock.now().timestamp()
    )
    assert problem_type(alice.get(RECEIPT_PATH, signer=impostor)) == "/problems/signature-mismatch"


def test_body_changed_after_signing(alice):
    body = json.dumps({"submission_id": "s1", "records": []}).encode()
    response = alice.post("/api/v1/submissions", body, tamper_body=body.replace(b"s1", b"s2"))
    assert response.status_code == 401
    assert problem_type(response) == "/problems/digest-mismatch"


def test_created_in_the_future_too_old_and_expired(alice, clock):
    ahead = RequestSigner(
        alice.key.id, alice.signer.private_key, clock=lambda: clock.now().timestamp() + 120
    )
    assert problem_type(alice.get(RECEIPT_PATH, signer=ahead)) == "/problems/created-in-future"
    old = RequestSigner(
        alice.key.id, alice.signer.private_key, clock=lambda: clock.now().timestamp() - 400
    )
    assert problem_type(alice.get(RECEIPT_PATH, signer=old)) == "/problems/created-too-old"
    short = RequestSigner(
        alice.key.id,
        alice.signer.private_key,
        expires_in=10,
        clock=lambda: clock.now().timestamp() - 100,
    )
    assert problem_type(alice.get(RECEIPT_PATH, signer=short)) == "/problems/signature-expired"
    long = RequestSigner(
        alice.key.id,
        alice.signer.private_key,
        expires_in=3600,
        clock=lambda: clock.now().timestamp(),
    )
    assert problem_type(alice.get(RECEIPT_PATH, signer=long)) == "/problems/validity-too-long"


def test_small_clock_skew_is_tolerated(alice, clock):
    ahead = RequestSigner(
        alice.key.id, alice.signer.private_key, clock=lambda: clock.now().timestamp() + 30
    )
    assert alice.get(RECEIPT_PATH, signer=ahead).status_code == 404


def test_a_replayed_request_is_refused(alice):
    # A refused request (404) spends its nonce after its transaction rolled back...
    first = alice.get(RECEIPT_PATH, nonce="replayed-nonce-1")
    assert first.status_code == 404
    again = alice.get(RECEIPT_PATH, nonce="replayed-nonce-1")
    assert again.status_code == 401
    assert problem_type(again) == "/problems/nonce-reused"
    # ...and an answered one spends it with its own changes (here, its query-log row).
    path = "/api/v1/subjects?q=%E5%8D%8E%E4%BF%A1&purpose=counterparty_check"
    assert alice.get(path, nonce="replayed-nonce-2").status_code == 200
    replayed = alice.get(path, nonce="replayed-nonce-2")
    assert problem_type(replayed) == "/problems/nonce-reused"


@pytest.mark.parametrize(
    ("path", "components", "missing"),
    [
        (RECEIPT_PATH, ["@method", "@path"], "@authority"),
        (RECEIPT_PATH + "?x=1", ["@method", "@authority", "@path"], "@query"),
        ("/api/v1/submissions", ["@method", "@authority", "@path"], "content-digest"),
    ],
)
def test_required_components_must_be_covered(alice, path, components, missing):
    method = "POST" if path == "/api/v1/submissions" else "GET"
    body = b'{"submission_id": "x", "records": []}' if method == "POST" else b""
    response = alice.request(method, path, body, components=components)
    assert response.status_code == 401
    assert problem_type(response) == "/problems/component-not-covered"
    assert missing in response.get_json()["detail"]


def test_the_path_is_verified_as_sent_with_its_percent_encoding(alice):
    # What urllib.parse.quote makes of a submission id: ":" goes on the wire as "%3A".
    response = alice.get("/api/v1/submissions/batch%3A1")
    assert response.status_code == 404
    assert problem_type(response) == "/problems/not-found"


def test_our_client_covers_the_content_type_so_a_changed_one_is_refused(alice):
    body = b'{"submission_id": "x", "records": []}'
    headers = {"Host": AUTHORITY, "Content-Type": "application/json"}
    headers.update(
        alice.signer.headers_for("POST", f"http://{AUTHORITY}/api/v1/submissions", body, headers)
    )
    assert "content-type" in headers["Signature-Input"]
    sent = {**headers, "Content-Type": "application/x-ndjson"}
    response = alice.client.post(
        "/api/v1/submissions", data=body, headers=sent, base_url=f"http://{AUTHORITY}"
    )
    assert response.status_code == 401
    assert problem_type(response) == "/problems/signature-mismatch"


def test_a_body_signed_without_its_content_type_is_still_accepted(alice):
    # Clients written before content-type was covered keep working.
    body = b'{"submission_id": "x", "records": []}'
    covered = ["@method", "@authority", "@path", "content-digest"]
    response = alice.post("/api/v1/submissions", body, components=covered)
    assert response.status_code == 422
    assert problem_type(response) == "/problems/validation-failed"


def test_a_signature_may_cover_more(alice):
    response = alice.get(
        RECEIPT_PATH, components=["@method", "@authority", "@path", "@target-uri", "host"]
    )
    assert response.status_code == 404


# What a TLS-terminating proxy passes on: the app is reached over plain HTTP at its own
# address, and the headers say what the member connected to.
BEHIND_THE_PROXY = {
    "Host": "app:8000",
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": AUTHORITY,
}


def signed_for_https_through_the_proxy(member):
    return member.get(
        RECEIPT_PATH,
        components=["@method", "@authority", "@path", "@scheme", "@target-uri"],
        signed_scheme="https",
        extra_headers=BEHIND_THE_PROXY,
    )


@pytest.mark.settings(TRUSTED_PROXIES=1)
def test_behind_a_trusted_proxy_a_request_signed_for_https_at_the_public_host_verifies(alice):
    assert signed_for_https_through_the_proxy(alice).status_code == 404


def test_with_no_proxy_trusted_the_forwarded_scheme_and_host_count_for_nothing(alice):
    response = signed_for_https_through_the_proxy(alice)
    assert response.status_code == 401
    assert problem_type(response) == "/problems/signature-mismatch"


def test_ecdsa_p256_keys_sign_too(session, client, clock):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from registry.members import add_key
    from tests import factories

    member = factories.member(session, roles=("querier",))
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = add_key(
        session,
        actor=TEST_ACTOR,
        member=member,
        public_key_pem=pem.decode(),
        algorithm="ecdsa-p256-sha256",
        now=clock.now(),
    )
    session.commit()
    from tests.signing import SignedMember

    bob = SignedMember(
        member, key, RequestSigner(key.id, private, clock=lambda: clock.now().timestamp()), client
    )
    assert bob.get(RECEIPT_PATH).status_code == 404


def test_a_role_the_member_lacks_gives_403(session, client, clock):
    querier = signed_member(session, client, clock, roles=("querier",))
    response = querier.post("/api/v1/submissions", {"submission_id": "s", "records": []})
    assert response.status_code == 403
    assert problem_type(response) == "/problems/role-missing"


def test_rate_limit_answers_429_with_retry_after(database_url, migrated_engine, make_app, clock):
    import sqlalchemy as sa

    from registry.db import db

    app = make_app(database_url, RATE_LIMIT_PER_MINUTE=2)
    connection = migrated_engine.connect()
    outer = connection.begin()
    db.bind_to(app, connection)
    try:
        with app.app_context():
            member = signed_member(db.session, app.test_client(), clock)
            assert member.get(RECEIPT_PATH).status_code == 404
            assert member.get(RECEIPT_PATH).status_code == 404
            limited = member.get(RECEIPT_PATH, nonce="limited-1")
            assert limited.status_code == 429
            assert problem_type(limited) == "/problems/rate-limited"
            assert 1 <= int(limited.headers["Retry-After"]) <= 60
            # The refused request spent its nonce all the same: it cannot be sent again.
            replayed = member.get(RECEIPT_PATH, nonce="limited-1")
            assert problem_type(replayed) == "/problems/nonce-reused"
            clock.advance(timedelta(minutes=1))
            assert member.get(RECEIPT_PATH).status_code == 404
            # Counted from the nonces: three in the first minute, one in the second.
            assert db.session.scalar(sa.text("SELECT count(*) FROM request_nonces")) == 4
    finally:
        outer.rollback()
        connection.close()


@pytest.mark.settings(RATE_LIMIT_PER_MINUTE=0)
def test_with_no_rate_limit_nothing_is_counted_and_a_replay_is_still_refused(
    session, client, clock
):
    member = signed_member(session, client, clock)
    for _ in range(5):
        assert member.get(RECEIPT_PATH).status_code == 404
    assert member.get(RECEIPT_PATH, nonce="sent-only-once").status_code == 404
    replayed = member.get(RECEIPT_PATH, nonce="sent-only-once")
    assert problem_type(replayed) == "/problems/nonce-reused"


def test_a_flooding_member_is_counted_no_further_than_its_limit(session, client, clock):
    member = signed_member(session, client, clock)
    now = clock.now()
    connection = session.connection()
    for n in range(20):
        use = nonce_use(member, f"flood-{n}", now)
        assert claim_nonce(connection, use, 3).counted
        if spent_at_commit(connection):  # SQLite writes the nonce at the request's commit
            assert spend_nonce(connection, use)
    count, _ = claim_nonce(connection, nonce_use(member, "one-more", now), 3).counted
    # Twenty earlier requests, counted no further than the limit, and this one: over the
    # limit, so refused, whatever the exact number.
    assert count == 4
    unlimited = claim_nonce(connection, nonce_use(member, "unlimited", now), 0).counted
    assert unlimited is not None and unlimited[0] == 0
    assert claim_nonce(connection, nonce_use(member, "flood-0", now), 0).counted is None


def nonce_use(member, nonce: str, now) -> NonceUse:
    return NonceUse(
        key_id=member.key.id,
        member_id=member.member.id,
        nonce=nonce,
        seen_at=now,
        expires_at=now + timedelta(minutes=5),
    )


BODY = json.dumps({"submission_id": "prop-1", "records": []}).encode()


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_flipping_any_byte_of_body_or_covered_header_is_refused(alice, data):
    headers = {"Host": "registry.test", "Content-Type": "application/json"}
    url = "http://registry.test/api/v1/submissions"
    signed = alice.signer.headers_for("POST", url, BODY, headers)
    target = data.draw(
        st.sampled_from(["body", "Content-Digest", "Signature", "Signature-Input", "Host"])
    )
    body, host = BODY, "registry.test"
    if target == "body":
        position = data.draw(st.integers(0, len(body) - 1))
        body = body[:position] + bytes([body[position] ^ 0x01]) + body[position + 1 :]
    elif target == "Host":
        position = data.draw(st.integers(0, len(host) - 1))
        host = host[:position] + ("q" if host[position] != "q" else "r") + host[position + 1 :]
    else:
        value = signed[target]
        position = data.draw(st.integers(0, len(value) - 1))
        replacement = data.draw(st.sampled_from('AZaz09+/=:;()"-_ x'))
        if replacement == value[position]:
            replacement = "Q" if value[position] != "Q" else "R"
        signed = {**signed, target: value[:position] + replacement + value[position + 1 :]}
    response = alice.client.open(
        "/api/v1/submissions",
        method="POST",
        data=body,
        headers={**headers, **signed, "Host": host},
        base_url=f"http://{host}",
    )
    assert response.status_code == 401, (target, response.get_data(as_text=True))
