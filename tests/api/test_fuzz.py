"""Every operation of the published OpenAPI document, fed generated requests: the registry
never answers 500, and every answer matches what the document says it answers.

Schemathesis generates each case from /api/openapi.json; a signed operation is signed like a
member's client would sign it (after the case is serialised, so the signature covers exactly
what is sent), by a member holding every role. The number of examples per operation is kept
small so the suite stays fast; CREDITREG_FUZZ_EXAMPLES raises it for a longer run.
"""

import json
import os
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from api.openapi import build_document
from registry.app import create_app
from tests.signing import AUTHORITY, signed_member

SIGNATURE_HEADERS = {"signature", "signature-input"}
# Left out, and why:
# - positive_data_acceptance: the document states each field's form, not the rules across
#   fields (a person is looked up by ID number only, a screening row needs a name or a USCC),
#   so a schema-valid request may rightly get a 422 naming the rule;
# - ignored_auth, missing_required_header: a case here is always signed for real (the
#   signature covers the serialised request, which the generator cannot produce), so those
#   checks' deliberately broken credentials never reach the server. Signature enforcement has
#   its own tests (tests/api/test_signatures.py).
EXCLUDED_CHECKS = [
    schemathesis.checks.positive_data_acceptance,
    schemathesis.checks.ignored_auth,
    schemathesis.checks.missing_required_header,
]
EXAMPLES = int(os.environ.get("CREDITREG_FUZZ_EXAMPLES", "8"))


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: object, value: object) -> bytes:
    """Submissions also come as one JSON record per line."""
    items = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def _document() -> dict:
    """The document the registry serves, built once from the test profile's settings (the
    operations do not depend on the database)."""
    application = create_app({"DATABASE_URL": "sqlite://"}, profile="test")
    with application.app_context():
        document = build_document()
    # Requests are signed here, for real, after they are generated: the generator is not
    # told of the signature scheme, or it would send and break the header itself.
    document["components"].pop("securitySchemes", None)
    for operations in document["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    return document


schema = schemathesis.openapi.from_dict(_document())


@pytest.fixture
def member(session, client, clock):
    return signed_member(
        session,
        client,
        clock,
        kind="regulator",
        roles=("submitter", "querier", "regulator", "platform"),
    )


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_500_or_off_its_documented_shape(case, member):
    sent = case.as_transport_kwargs(base_url=f"http://{AUTHORITY}")
    # Serialised exactly as a client would send it; the signature covers these bytes.
    prepared = requests.Request(
        method=sent["method"],
        url=sent["url"],
        params=sent.get("params"),
        headers={k: v for k, v in sent.get("headers", {}).items() if k != "Accept-Encoding"},
        data=sent.get("data"),
        json=sent.get("json"),
        files=sent.get("files"),
    ).prepare()
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    headers = {**dict(prepared.headers), "Host": AUTHORITY}
    if case.operation.path.startswith("/api/") and "/public/" not in case.operation.path:
        headers = {k: v for k, v in headers.items() if k.lower() not in SIGNATURE_HEADERS}
        headers.update(member.signer.headers_for(prepared.method, prepared.url, body, headers))
    split = urlsplit(prepared.url)
    response = member.client.open(
        split.path,
        method=prepared.method,
        data=body,
        headers=headers,
        base_url=f"http://{AUTHORITY}",
        query_string=split.query,
    )
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    case.validate_response(response, excluded_checks=EXCLUDED_CHECKS)
