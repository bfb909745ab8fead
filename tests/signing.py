"""Signed requests through the Flask test client, as a member's client would send them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from flask.testing import FlaskClient

from api.client import RequestSigner
from registry.members import Member, MemberKey, add_key
from tests import factories
from tests.factories import TEST_ACTOR

AUTHORITY = "registry.test"


@dataclass
class SignedMember:
    member: Member
    key: MemberKey
    signer: RequestSigner
    client: FlaskClient

    def request(
        self,
        method: str,
        path: str,
        body: Any = b"",
        *,
        content_type: str | None = "application/json",
        sign: bool = True,
        components: list[str] | None = None,
        nonce: str | None = None,
        extra_headers: dict[str, str] | None = None,
        signer: RequestSigner | None = None,
        tamper_body: bytes | None = None,
        signed_scheme: str = "http",
    ) -> Any:
        if isinstance(body, dict | list):
            body = json.dumps(body, ensure_ascii=False).encode()
        headers = {"Host": AUTHORITY}
        if body and content_type:
            headers["Content-Type"] = content_type
        headers.update(extra_headers or {})
        if sign:
            headers.update(
                (signer or self.signer).headers_for(
                    method,
                    f"{signed_scheme}://{AUTHORITY}{path}",
                    body,
                    headers,
                    components=components,
                    nonce=nonce,
                )
            )
        sent = tamper_body if tamper_body is not None else body
        return self.client.open(
            path, method=method, data=sent, headers=headers, base_url=f"http://{AUTHORITY}"
        )

    def post(self, path: str, body: Any, **options: Any) -> Any:
        return self.request("POST", path, body, **options)

    def get(self, path: str, **options: Any) -> Any:
        return self.request("GET", path, b"", content_type=None, **options)


def signed_member(
    session,
    client: FlaskClient,
    clock,
    *,
    kind: str = "bank",
    roles: tuple[str, ...] = ("submitter", "querier"),
    **key_options: Any,
) -> SignedMember:
    member = factories.member(session, kind=kind, roles=roles)
    private = ed25519.Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = add_key(
        session,
        actor=TEST_ACTOR,
        member=member,
        public_key_pem=pem.decode(),
        now=clock.now(),
        valid_from=key_options.pop("valid_from", clock.now()),
        **key_options,
    )
    session.commit()
    signer = RequestSigner(key.id, private, clock=lambda: clock.now().timestamp())
    return SignedMember(member=member, key=key, signer=signer, client=client)


def accepted(member: SignedMember, submission_id: str, records: list[dict[str, Any]]) -> Any:
    """Send a submission that must be accepted (201); returns the response."""
    response = member.post(
        "/api/v1/submissions", {"submission_id": submission_id, "records": records}
    )
    assert response.status_code == 201, response.get_json()
    return response
